import type { ComponentHealth, Desired, DrainResult, EngineState, RecordedError } from './types.ts';

/** What became of one message (or, for `received`, that it arrived). */
export type MessageOutcome = 'received' | 'processed' | 'failed' | 'retried' | 'deadLettered' | 'aborted';

/**
 * Everything the engine announces, as tuples of listener arguments (node:events' typed EventEmitter map).
 * Metrics and logs subscribe to these; none of them carries control flow back into the engine.
 */
export interface EngineEvents {
  /** The actual state changed; `durationMs` is how long the engine spent in `from`. */
  transition: [{ from: EngineState; to: EngineState; durationMs: number; at: string }];
  /** The desired state read from the switch changed (before the engine acts on it). */
  desired: [Desired];
  /** A drain finished (mode drain or pause, timed out or not). */
  drained: [DrainResult];
  /** A message outcome; `attempt` counts from 1, `durationMs` is the handler time of that attempt. */
  message: [
    {
      outcome: MessageOutcome;
      topic: string;
      partition: number;
      offset: string;
      attempt: number;
      durationMs: number;
    },
  ];
  /** An offset commit reached the broker; `offset` is the next offset to consume (Kafka's convention). */
  commit: [{ topic: string; partition: number; offset: string }];
  /** The group (re)assigned partitions to this member. */
  rebalance: [{ assigned: Record<string, number[]> }];
  /** An established switch watch ended (disconnect, compaction, error); the watcher re-reads and re-watches. */
  watchRestart: [{ reason: string }];
  /** The switch key held a value that is neither a boolean word nor valid JSON; the state was kept. */
  invalidSwitch: [{ raw: string; error: string; at: string }];
  /** etcd became reachable or unreachable. */
  etcdHealth: [ComponentHealth];
  /** Kafka became reachable or unreachable (consumer crash, connect failure, recovery). */
  kafkaHealth: [ComponentHealth];
  /** Joining the group failed; `attempt` counts the failures of this join, which is retried with backoff. */
  joinFailed: [{ attempt: number; error: string }];
  /** An error was recorded in the last-errors ring buffer. */
  errorRecorded: [RecordedError];
}
