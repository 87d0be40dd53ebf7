import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { createConsumer, type Consumer, type MessageHandler } from '@kmaint/consumer';
import { consumerOptions } from '../../src/options.ts';
import {
  brokers,
  createTopic,
  etcdEndpoints,
  fullyCommitted,
  produce,
  testLogger,
  useTools,
  uniqueName,
  waitFor,
} from '../../../consumer/test/integration/engine/harness.ts';

const t = useTools();

const KEYS = 4;
const MESSAGES = 40;

/** A consumer configured the way the service is: from environment variables through config and options. */
function engineFromEnv(
  topic: string,
  groupId: string,
  orderBy: string | undefined,
  handler: MessageHandler,
): Consumer {
  const id = uniqueName('order');
  const config = loadConfig({
    KAFKA_BROKERS: brokers().join(','),
    KAFKA_TOPICS: topic,
    KAFKA_CONSUMER_GROUP: groupId,
    ETCD_ENDPOINTS: etcdEndpoints().join(','),
    MAINTENANCE_KEY: `/maintenance/${uniqueName('order')}`,
    MEMBER_ID: id,
    KAFKA_CLIENT_ID: id,
    ...(orderBy === undefined ? {} : { ORDER_BY: orderBy }),
  });
  return createConsumer(consumerOptions(config, { logger: testLogger(), handler }));
}

/** Runs MESSAGES messages over KEYS keys on one partition; returns offsets per key and the peak concurrency. */
async function consume(
  orderBy: string | undefined,
): Promise<{ peak: number; sequence: number[]; byKey: Map<string, number[]> }> {
  const topic = uniqueName('order-by');
  const groupId = uniqueName('g-order');
  await createTopic(t, topic, 1);
  await produce(t, topic, MESSAGES, { key: (i) => `k${i % KEYS}` });
  let running = 0;
  let peak = 0;
  let done = 0;
  const overlap = Promise.withResolvers<undefined>();
  const sequence: number[] = [];
  const byKey = new Map<string, number[]>();
  const engine = engineFromEnv(topic, groupId, orderBy, async (m) => {
    running += 1;
    peak = Math.max(peak, running);
    if (running > 1) overlap.resolve(undefined);
    sequence.push(Number(m.offset));
    const key = m.key?.toString() ?? '';
    byKey.set(key, [...(byKey.get(key) ?? []), Number(m.offset)]);
    // Per key, the first message waits for a second one to run beside it: only per-key order lets it.
    if (orderBy === 'key' && m.offset === '0') await overlap.promise;
    else await new Promise((r) => setImmediate(r));
    running -= 1;
    done += 1;
  });
  await engine.start();
  try {
    await waitFor(() => done === MESSAGES, { message: `all ${MESSAGES} processed with ORDER_BY=${orderBy}` });
    await waitFor(() => fullyCommitted(t, groupId, topic), { message: 'everything committed' });
  } finally {
    await engine.stop();
  }
  return { peak, sequence, byKey };
}

describe('ORDER_BY reaches the engine', () => {
  it('partition (the default): one message at a time on a partition, in offset order', async () => {
    const { peak, sequence } = await consume(undefined);
    expect(peak).toBe(1);
    expect(sequence).toEqual([...Array(MESSAGES).keys()]);
  });

  it('key: messages of different keys of one partition run side by side, each key in order', async () => {
    const { peak, byKey } = await consume('key');
    expect(peak).toBeGreaterThan(1);
    expect(byKey.size).toBe(KEYS);
    for (const offsets of byKey.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect([...byKey.values()].flat()).toHaveLength(MESSAGES);
  });
});
