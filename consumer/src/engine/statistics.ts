import type { EventEmitter } from 'node:events';
import type { EngineEvents } from '../core/events.ts';
import { emptyCounters, newErrorLog } from '../core/stats.ts';
import type { RecordedError } from '../core/types.ts';
import { tpKey, type KafkaClient } from '../kafka/client.ts';
import type { EngineCounters, PartitionStats } from './types.ts';

type MessageEvent = EngineEvents['message'][0];

/**
 * The counters and the last errors, fed directly by the message path (processor, commits, assignments)
 * and announced as events; the engine only reads them.
 */
export class Statistics {
  readonly #events: EventEmitter<EngineEvents>;
  readonly #counters = emptyCounters();
  readonly #errors = newErrorLog();

  constructor(events: EventEmitter<EngineEvents>) {
    this.#events = events;
  }

  /** One message outcome (or its arrival). */
  readonly message = (e: MessageEvent): void => {
    const c = this.#counters;
    switch (e.outcome) {
      case 'received':
        c.received += 1;
        break;
      case 'processed':
        c.processed += 1;
        break;
      case 'failed':
        c.failed += 1;
        break;
      case 'retried':
        c.retried += 1;
        break;
      case 'deadLettered':
        c.deadLettered += 1;
        break;
      case 'aborted':
        break;
    }
    this.#events.emit('message', e);
  };

  readonly commit = (topic: string, partition: number, offset: string): void => {
    this.#counters.commits += 1;
    this.#events.emit('commit', { topic, partition, offset });
  };

  rebalance(assigned: Record<string, number[]>): void {
    this.#counters.rebalances += 1;
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

  counters(inFlight: number): EngineCounters {
    return { ...this.#counters, inFlight, errors: this.#errors.toArray() };
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
