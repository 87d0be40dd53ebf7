import { KmaintError } from '@kmaint/common';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Consumer, ConsumerCounters, ConsumerHealth, ConsumerStats, TopicInfo } from '@kmaint/consumer';
import { consumerServicePort } from '../../../src/http/consumer-adapter.ts';

const counters: ConsumerCounters = {
  received: 4,
  processed: 3,
  failed: 0,
  retried: 1,
  deadLettered: 0,
  inFlight: 1,
  commits: 2,
  rebalances: 1,
  errors: [],
};

const snapshot: ConsumerHealth = {
  state: 'running',
  desired: { maintenance: false, mode: 'drain', reason: null, window: null, drainTimeoutMs: null },
  mode: null,
  reason: null,
  window: null,
  since: '2026-11-27T10:00:00.000Z',
  inFlight: 1,
  lastDrain: null,
  drainedAt: null,
  components: { kafka: { healthy: true, detail: 'ok' }, etcd: { healthy: true, detail: 'ok' } },
  invalidSwitch: null,
  topics: ['b', 'a'],
  stopped: false,
  live: true,
  ready: true,
};

const never = <T>() => new Promise<T>(() => undefined);

function fakeConsumer(overrides: Partial<Consumer> = {}): Consumer {
  const fake: Consumer = {
    start: async () => undefined,
    stop: async () => undefined,
    state: 'running',
    on: () => fake,
    off: () => fake,
    registry: new Registry(),
    health: () => snapshot,
    counters: () => counters,
    stats: async (): Promise<ConsumerStats> => ({
      ...counters,
      partitions: [{ topic: 'a', partition: 0, committedOffset: '3', endOffset: '4', lag: 1 }],
    }),
    send: async (topic) => ({ topic, partition: 1, offset: '9' }),
    topics: async (): Promise<TopicInfo[]> => [
      { topic: 'a', partitions: [] },
      {
        topic: 'b',
        partitions: [
          { partition: 1, leader: 1, replicas: [1], isr: [1], earliestOffset: '0', latestOffset: '0' },
          { partition: 0, leader: 1, replicas: [1], isr: [1], earliestOffset: '0', latestOffset: '0' },
        ],
      },
    ],
    ...overrides,
  };
  return fake;
}

const options = { drainTimeoutMs: 45_000, shuttingDown: () => false, kafkaTimeoutMs: 20 };

describe('the consumer behind the HTTP port', () => {
  it('uses the switch’s drain timeout when it has one, else the configured one', () => {
    expect(consumerServicePort(fakeConsumer(), options).status().drainTimeoutMs).toBe(45_000);
    const withTimeout = fakeConsumer({
      health: () => ({ ...snapshot, desired: { ...snapshot.desired, drainTimeoutMs: 10_000 } }),
    });
    expect(consumerServicePort(withTimeout, options).status().drainTimeoutMs).toBe(10_000);
  });

  it('reports a shutdown from the moment main.ts begins it', () => {
    let shuttingDown = false;
    const port = consumerServicePort(fakeConsumer(), { ...options, shuttingDown: () => shuttingDown });
    expect(port.status().shuttingDown).toBe(false);
    shuttingDown = true;
    expect(port.status().shuttingDown).toBe(true);
  });

  it('serves the local counters when Kafka fails or does not answer', async () => {
    for (const stats of [async () => Promise.reject(new Error('down')), never<ConsumerStats>]) {
      const result = await consumerServicePort(fakeConsumer({ stats }), options).stats();
      expect(result).toMatchObject({ received: 4, processed: 3, inFlight: 1, partitions: [] });
      expect(result).not.toHaveProperty('rebalances');
    }
  });

  it('orders the stats partitions by configured topic, then partition', async () => {
    const part = (topic: string, partition: number) => ({
      topic,
      partition,
      committedOffset: null,
      endOffset: '0',
      lag: 0,
    });
    const stats = async (): Promise<ConsumerStats> => ({
      ...counters,
      partitions: [part('a', 0), part('b', 1), part('b', 0)],
    });
    const result = await consumerServicePort(fakeConsumer({ stats }), options).stats();
    expect(result.partitions.map((p) => `${p.topic}${p.partition}`)).toEqual(['b0', 'b1', 'a0']);
  });

  it('orders topics as configured and partitions ascending', async () => {
    const topics = await consumerServicePort(fakeConsumer(), options).topicsInfo();
    expect(topics.map((t) => t.name)).toEqual(['b', 'a']);
    expect(topics[0]?.partitions.map((p) => p.partition)).toEqual([0, 1]);
  });

  it('turns a silent broker into a retriable KAFKA_UNAVAILABLE', async () => {
    const port = consumerServicePort(fakeConsumer({ topics: never<TopicInfo[]> }), options);
    await expect(port.topicsInfo()).rejects.toMatchObject({ code: 'KAFKA_UNAVAILABLE', retriable: true });
  });

  it('defect 6: a send the broker does not answer within the Kafka deadline is a retriable KAFKA_UNAVAILABLE', async () => {
    const port = consumerServicePort(fakeConsumer({ send: never }), options);
    await expect(port.send({ topic: 'a', message: 'm' })).rejects.toMatchObject({
      code: 'KAFKA_UNAVAILABLE',
      retriable: true,
    });
  });

  it.each([
    [{ type: 'MESSAGE_TOO_LARGE', retriable: false, message: 'big' }, 'MESSAGE_TOO_LARGE', false],
    [{ type: 'TOPIC_AUTHORIZATION_FAILED', retriable: false, message: 'no' }, 'KAFKA_FAILED', false],
    [{ type: 'LEADER_NOT_AVAILABLE', retriable: true, message: 'later' }, 'KAFKA_UNAVAILABLE', true],
    [new KmaintError('OWN', 'kept'), 'OWN', false],
  ])('maps a send failure %o to %s', async (thrown, code, retriable) => {
    const port = consumerServicePort(fakeConsumer({ send: () => Promise.reject(thrown) }), options);
    await expect(port.send({ topic: 'a', message: 'm' })).rejects.toMatchObject({ code, retriable });
  });
});
