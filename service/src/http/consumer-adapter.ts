import { KmaintError, withTimeout } from '@kmaint/common';
import type { Consumer } from '@kmaint/consumer';
import type { ApiStats, ServicePort } from './port.ts';

export interface AdapterOptions {
  /** The configured DRAIN_TIMEOUT, used when the switch does not set its own. */
  drainTimeoutMs: number;
  /** Whether main.ts has begun shutting down (the consumer reports the end of it, not the start). */
  shuttingDown: () => boolean;
  /** Longest an API call waits for Kafka (stats then serve the local counters; topics/info a 503). */
  kafkaTimeoutMs?: number;
}

const kafkaTimeout = (ms: number) => () =>
  new KmaintError('KAFKA_UNAVAILABLE', `Kafka did not answer within ${ms} ms`, { retriable: true });

/** The consumer seen through the HTTP layer's port. */
export function consumerServicePort(consumer: Consumer, options: AdapterOptions): ServicePort {
  const timeoutMs = options.kafkaTimeoutMs ?? 5_000;
  return {
    status() {
      const s = consumer.health();
      return {
        state: s.state,
        since: s.since,
        desired: {
          maintenance: s.desired.maintenance,
          mode: s.desired.mode,
          // The consumer's, not the switch's: a switch turned off may still carry the old reason.
          reason: s.reason,
          window: s.window,
        },
        inFlight: s.inFlight,
        drainTimeoutMs: s.desired.drainTimeoutMs ?? options.drainTimeoutMs,
        lastDrain: s.lastDrain,
        components: s.components,
        invalidSwitch: s.invalidSwitch,
        shuttingDown: options.shuttingDown() || s.stopped,
      };
    },

    async stats(): Promise<ApiStats> {
      try {
        const { rebalances: _rebalances, ...stats } = await withTimeout(
          consumer.stats(),
          timeoutMs,
          kafkaTimeout(timeoutMs),
        );
        const order = consumer.health().topics;
        stats.partitions.sort(
          (a, b) => order.indexOf(a.topic) - order.indexOf(b.topic) || a.partition - b.partition,
        );
        return stats;
      } catch {
        // Kafka cannot be asked for offsets (in a broker upgrade, say): the local counters still tell
        // a person watching the drain what they need.
        const { rebalances: _rebalances, ...counters } = consumer.counters();
        return { ...counters, partitions: [] };
      }
    },

    async send({ topic, message, key, headers }) {
      // kafkajs nests its retries (metadata inside produce) and takes 15 s or more to give up on a stopped
      // broker: the client gets its 503 within the deadline instead. A send still under way then may land
      // later, so a client that retries on 503 gets the message at least once, as with any Kafka producer.
      try {
        return await withTimeout(
          consumer.send(topic, message, { key, headers }),
          timeoutMs,
          kafkaTimeout(timeoutMs),
        );
      } catch (err) {
        throw asKafkaError(err, 'accept the message');
      }
    },

    async topicsInfo() {
      // In the configured order, partitions ascending: the broker answers in no particular order.
      const order = consumer.health().topics;
      const topics = await withTimeout(consumer.topics(), timeoutMs, kafkaTimeout(timeoutMs)).catch(
        (err: unknown) => {
          throw asKafkaError(err, 'describe the topics');
        },
      );
      return topics
        .sort((a, b) => order.indexOf(a.topic) - order.indexOf(b.topic))
        .map(({ topic, partitions }) => ({
          name: topic,
          partitions: [...partitions].sort((a, b) => a.partition - b.partition),
        }));
    },
  };
}

/** Kafka client errors carry `type` and `retriable`; keep what a client of the API can act on. */
function asKafkaError(err: unknown, doing: string): KmaintError {
  if (err instanceof KmaintError) return err;
  const e = err as { type?: unknown; retriable?: unknown; message?: unknown };
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') {
    return new KmaintError('MESSAGE_TOO_LARGE', `Kafka refused the message as too large: ${message}`, {
      cause: err,
    });
  }
  if (e.retriable === false) {
    return new KmaintError('KAFKA_FAILED', `Kafka could not ${doing}: ${message}`, { cause: err });
  }
  return new KmaintError('KAFKA_UNAVAILABLE', `Kafka did not ${doing}: ${message}`, {
    retriable: true,
    cause: err,
  });
}
