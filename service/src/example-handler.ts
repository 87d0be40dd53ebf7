import { abortableDelay } from '@kmaint/common';
import type { ConsumedMessage, MessageHandler } from '@kmaint/consumer';
import type { Logger } from './log.ts';

export interface ExampleHandlerOptions {
  /** Simulated work per message (SIMULATED_WORK_TIME), interrupted by the signal. */
  workTimeMs?: number;
  /** Messages this returns true for fail (tests use it for poison messages). */
  failWhen?: (msg: ConsumedMessage) => boolean;
}

/** The demo handler: logs each message, optionally pretending to work for a while. */
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
