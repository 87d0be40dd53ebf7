import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createConsumer, type ConsumerOptions } from '../../src/index.ts';

const options: ConsumerOptions = {
  kafka: { brokers: ['127.0.0.1:1'], clientId: 'unit' },
  groupId: 'g',
  topics: ['t'],
  handler: async () => undefined,
  maintenance: { etcd: { endpoints: ['127.0.0.1:1'] }, key: '/maintenance/unit' },
  logger: pino({ level: 'silent' }),
};

describe('createConsumer', () => {
  it('connects nothing until start(), and is neither consuming nor ready before', async () => {
    const consumer = createConsumer(options);
    expect(consumer.health()).toMatchObject({ live: true, ready: false, stopped: false, topics: ['t'] });
    expect(consumer.state).not.toBe('running');
    // stop() before start() has nothing to drain or close.
    await expect(consumer.stop()).resolves.toBeUndefined();
  });

  it('adds its metrics to a given registry, without process metrics of its own', async () => {
    const registry = new Registry();
    const consumer = createConsumer({ ...options, registry });
    expect(consumer.registry).toBe(registry);
    const names = registry.getMetricsAsArray().map((m) => m.name);
    expect(names).toContain('kmaint_messages_processed_total');
    expect(names).toContain('kmaint_consumer_lag');
    expect(names).not.toContain('process_cpu_user_seconds_total');
  });

  it('has a registry with process metrics when none is given', async () => {
    const text = await createConsumer(options).registry.getSingleMetricAsString(
      'process_cpu_user_seconds_total',
    );
    expect(text).toMatch(/process_cpu_user_seconds_total/);
  });

  it('refuses bad options before building anything', () => {
    expect(() => createConsumer({ ...options, topics: [] })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS' }),
    );
  });

  it('delivers typed events to on() and stops after off()', () => {
    const consumer = createConsumer(options);
    const seen: string[] = [];
    const listener = (e: { outcome: string }) => seen.push(e.outcome);
    expect(consumer.on('message', listener)).toBe(consumer);
    consumer.off('message', listener);
    expect(seen).toEqual([]);
  });
});
