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

/** What a handler gets besides the message. */
export interface HandlerContext {
  /**
   * Aborts when this attempt must stop: its `maxProcessingTimeMs` ran out, or a drain (maintenance or
   * stop) reached its timeout. Stop the work and reject; the message is then not committed and comes back
   * (after the window, or to whoever owns the partition next), never skipped. Read it only if you use it:
   * it is made on first read, which a busy consumer notices.
   */
  signal: AbortSignal;
}

/**
 * The application's message handler. Resolve when the message is done (its offset is then committed once
 * every earlier message of its partition is done too); reject to have it retried with exponential backoff
 * and, after the last retry, sent to the dead-letter topic. Reject with a KmaintError whose `retriable` is
 * false (a message that can never succeed) to dead-letter it at once; its message becomes the reason. Delivery is at least once: after a crash, a
 * rebalance or an aborted attempt the same message arrives again, so make the handler idempotent.
 */
export type MessageHandler = (msg: ConsumedMessage, ctx: HandlerContext) => Promise<void>;
