import { createConsumer } from '@kmaint/consumer';
import { pino } from 'pino';
import { describe, expect, inject, it } from 'vitest';
import {
  Recorder,
  brokers,
  createTopic,
  etcdEndpoints,
  produce,
  uniqueName,
  useTools,
  waitFor,
} from './harness.ts';

/**
 * The consumer group protocol 'consumer' (KIP-848) on @platformatic/kafka: on Kafka 4 the library joins a
 * group of that type through createConsumer; on Kafka 3.9, which has not enabled it, start() says so. (The engine suite itself runs on it with
 * KMAINT_KAFKA_GROUP_PROTOCOL=consumer: `npm run test:kip-848`.)
 */

const t = useTools();
const major = Number(inject('kafkaVersion').split('.')[0]);

function kip848Consumer(topic: string, rec: Recorder) {
  return createConsumer({
    kafka: { brokers: brokers(), adapter: 'platformatic', groupProtocol: 'consumer', maxWaitTimeMs: 250 },
    groupId: uniqueName('g-kip848'),
    topics: [topic],
    handler: rec.handler(),
    maintenance: { etcd: { endpoints: etcdEndpoints() }, key: `/maintenance/${uniqueName('kip848')}` },
    logger: pino({ level: 'silent' }),
  });
}

describe("the group protocol 'consumer' (KIP-848)", () => {
  it.runIf(major >= 4)('Kafka 4: start() joins with it and consumes', async () => {
    const topic = uniqueName('kip848');
    await createTopic(t, topic, 2);
    const rec = new Recorder();
    const c = kip848Consumer(topic, rec);
    await c.start();
    try {
      await produce(t, topic, 50, { partitions: 2 });
      await waitFor(() => rec.distinct === 50, { message: '50 processed' });
      expect(c.health().ready).toBe(true);
    } finally {
      await c.stop();
    }
  });

  it.runIf(major < 4)(
    'Kafka 3.9: start() refuses it, naming group.version, instead of retrying a join the broker will not take',
    async () => {
      const topic = uniqueName('kip848-39');
      await createTopic(t, topic, 1);
      const c = kip848Consumer(topic, new Recorder());
      const started = c.start();
      await expect(started).rejects.toMatchObject({
        code: 'KAFKA_CLIENT_UNSUPPORTED',
        message: expect.stringMatching(/group\.version is 0.*KAFKA_GROUP_PROTOCOL=classic/),
      });
      await c.stop();
    },
  );
});
