import type { EventEmitter } from 'node:events';
import type { EngineEvents, MessageOutcome } from '../core/events.ts';
import { MessageTotals, newErrorLog } from '../core/stats.ts';
import type { RecordedError } from '../core/types.ts';
import { tpKey, type KafkaClient } from '../kafka/client.ts';
import type { EngineCounters, PartitionStats } from './types.ts';

/**
 * The counters and the last errors, fed directly by the message path (processor, commits, assignments);
 * the engine and the metrics only read them. The `message` event is announced only while someone listens:
 * it would otherwise be an object and an emit per message for nobody.
 */
export class Statistics {
  readonly #events: EventEmitter<EngineEvents>;
  readonly totals = new MessageTotals();
  readonly #errors = newErrorLog();
  #commits = 0;
  #rebalances = 0;

  constructor(events: EventEmitter<EngineEvents>) {
    this.#events = events;
  }

  /** A fetched batch arrived. */
  readonly received = (topic: string, partition: number, offsets: readonly string[]): void => {
    this.totals.topic(topic).received += offsets.length;
    if (this.#events.listenerCount('message') === 0) return;
    for (const offset of offsets) {
      this.#events.emit('message', {
        outcome: 'received',
        topic,
        partition,
        offset,
        attempt: 0,
        durationMs: 0,
      });
    }
  };

  /** One message outcome; `durationMs` is the handler time of that attempt (processed, retried). */
  readonly message = (
    outcome: Exclude<MessageOutcome, 'received'>,
    topic: string,
    partition: number,
    offset: string,
    attempt: number,
    durationMs: number,
  ): void => {
    const t = this.totals.topic(topic);
    switch (outcome) {
      case 'processed':
        t.processed += 1;
        t.processedSeconds.observe(durationMs / 1000);
        break;
      case 'retried':
        t.retried += 1;
        t.retriedSeconds.observe(durationMs / 1000);
        break;
      case 'failed':
        t.failed += 1;
        break;
      case 'deadLettered':
        t.deadLettered += 1;
        break;
      case 'aborted':
        t.aborted += 1;
        break;
    }
    if (this.#events.listenerCount('message') === 0) return;
    this.#events.emit('message', { outcome, topic, partition, offset, attempt, durationMs });
  };

  readonly commit = (topic: string, partition: number, offset: string): void => {
    this.#commits += 1;
    this.#events.emit('commit', { topic, partition, offset });
  };

  rebalance(assigned: Record<string, number[]>): void {
    this.#rebalances += 1;
    this.#events.emit('rebalance', { assigned });
  }

  /** A failed attempt to join the group (retried with backoff). */
  joinFailed(attempt: number, error: string): void {
    this.#events.emit('joinFailed', { attempt, error });
  }

  readonly error = (e: RecordedError): void => {
    this.#errors.push(e);
    this.#events.emit('errorRecorded', e);
  };

  lastError(): RecordedError | undefined {
    return this.#errors.toArray().at(-1);
  }

  /** In the order /messages/stats has always shown them. */
  counters(inFlight: number): EngineCounters {
    const { received, processed, failed, retried, deadLettered } = this.totals.sum();
    return {
      received,
      processed,
      failed,
      retried,
      deadLettered,
      commits: this.#commits,
      rebalances: this.#rebalances,
      inFlight,
      errors: this.#errors.toArray(),
    };
  }
}

/** Per partition of `topics`: the group's committed offset, the end offset and the lag between them. */
export async function partitionLag(
  kafka: KafkaClient,
  groupId: string,
  topics: string[],
): Promise<PartitionStats[]> {
  const [info, committed] = await Promise.all([
    kafka.topicsInfo(topics),
    kafka.committedOffsets(groupId, topics),
  ]);
  return info.flatMap((t) =>
    t.partitions.map((p) => {
      const committedOffset = committed.get(tpKey(t.topic, p.partition)) ?? null;
      const from = BigInt(committedOffset ?? p.earliestOffset);
      return {
        topic: t.topic,
        partition: p.partition,
        committedOffset,
        endOffset: p.latestOffset,
        lag: Math.max(0, Number(BigInt(p.latestOffset) - from)),
      };
    }),
  );
}
