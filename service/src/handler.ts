import type { Logger } from 'pino';
import { abortableDelay } from '@kmaint/common';

/** One consumed Kafka message as the handler sees it. Values and keys are raw bytes (null for tombstones). */
export interface ConsumedMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Broker timestamp, ms since the epoch as a string (kafkajs' convention). */
  timestamp: string;
}

/**
 * The user's message handler. Resolve when the message is done; reject to have it retried (with
 * exponential backoff) and finally dead-lettered. `signal` aborts when the drain timeout or the per-message
 * MAX_PROCESSING_TIME runs out: stop work and reject; the message is then redelivered, never skipped.
 * Read `ctx.signal` only if you use it: it is made on first read, which a busy consumer notices.
 */
export type MessageHandler = (msg: ConsumedMessage, ctx: { signal: AbortSignal }) => Promise<void>;

export interface ExampleHandlerOptions {
  /** Simulated work per message (SIMULATED_WORK_TIME), interrupted by the signal. */
  workTimeMs?: number;
  /** Messages this returns true for fail (tests use it for poison messages). */
  failWhen?: (msg: ConsumedMessage) => boolean;
}

/** The example handler, as GoMaint's: logs and counts each message, optionally pretending to work for a while. */
export function exampleHandler(logger: Logger, options: ExampleHandlerOptions = {}): MessageHandler {
  const { workTimeMs = 0, failWhen } = options;
  // The signal is read only when there is work to interrupt: the engine makes it on first read.
  return async (msg, ctx) => {
    if (workTimeMs > 0) {
      await abortableDelay(workTimeMs, ctx.signal);
      ctx.signal.throwIfAborted();
    }
    if (failWhen?.(msg)) throw new Error(`simulated failure for ${msg.topic}/${msg.partition}@${msg.offset}`);
    logger.debug(
      { topic: msg.topic, partition: msg.partition, offset: msg.offset, bytes: msg.value?.length ?? 0 },
      'message processed',
    );
  };
}
