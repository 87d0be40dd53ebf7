import { describe, expect, it } from 'vitest';
import { restartKafka, startKafka, stopKafka } from '../../../../test/env/control.ts';
import {
  Recorder,
  createTopic,
  fullyCommitted,
  makeEngine,
  produce,
  kafkaAdapter,
  scenario,
  setSwitch,
  stateIs,
  uniqueName,
  useTools,
  waitFor,
} from './harness.ts';

const t = useTools();

describe('Kafka restarting under the engine', () => {
  it(
    'keeps consuming after a broker restart, then drains and resumes; nothing lost',
    { timeout: 300_000 },
    async () => {
      const { topic, groupId, key, rec, engine } = await scenario(t, 'kafkarestart', 3);
      const kafkaHealth: boolean[] = [];
      engine.events.on('kafkaHealth', (h) => kafkaHealth.push(h.healthy));
      await engine.start();
      try {
        await produce(t, topic, 500, { partitions: 3 });
        await waitFor(() => rec.distinct === 500);
        await restartKafka();
        await waitFor(
          async () => {
            await produce(t, topic, 1, { partitions: 3, prefix: 'probe' });
            return true;
          },
          { timeoutMs: 60_000, message: 'producing after the restart' },
        );
        await produce(t, topic, 499, { partitions: 3, prefix: 'after' });
        await waitFor(() => rec.distinct === 1000, {
          timeoutMs: 120_000,
          message: 'consumed after the restart',
        });
        await waitFor(() => fullyCommitted(t, groupId, topic), { timeoutMs: 60_000 });

        await setSwitch(t, key, 'true');
        await waitFor(stateIs(engine, 'maintenance'));
        expect(await fullyCommitted(t, groupId, topic)).toBe(true);
        await setSwitch(t, key, 'false');
        await waitFor(stateIs(engine, 'running'));
        await produce(t, topic, 100, { partitions: 3, prefix: 'last' });
        await waitFor(() => rec.distinct === 1100);
        await waitFor(() => fullyCommitted(t, groupId, topic));
        console.log(
          `[kafka-restart] 1100 messages, duplicates ${rec.duplicates}, kafka health changes ${kafkaHealth.join(',')}`,
        );
      } finally {
        await startKafka().catch(() => undefined);
        await engine.shutdown();
      }
    },
  );

  it(
    'a maintenance switched while Kafka is down still completes, and nothing is lost after it returns',
    { timeout: 300_000 },
    async () => {
      const { topic, groupId, key, rec, engine } = await scenario(t, 'kafkadown', 2);
      await engine.start();
      try {
        await produce(t, topic, 200, { partitions: 2 });
        await waitFor(() => rec.distinct === 200);
        await stopKafka();
        await setSwitch(t, key, 'true');
        await waitFor(stateIs(engine, 'maintenance'), {
          timeoutMs: 60_000,
          message: 'maintenance without Kafka',
        });
        await startKafka();
        await setSwitch(t, key, 'false');
        await waitFor(stateIs(engine, 'running'), { timeoutMs: 60_000 });
        await waitFor(
          async () => {
            await produce(t, topic, 100, { partitions: 2, prefix: 'after' });
            return true;
          },
          { timeoutMs: 60_000, message: 'producing after Kafka is back' },
        );
        await waitFor(() => rec.distinct === 300, { timeoutMs: 120_000, message: 'all 300 processed' });
        await waitFor(() => fullyCommitted(t, groupId, topic), { timeoutMs: 60_000 });
        console.log(
          `[kafka-down] 300 messages, duplicates ${rec.duplicates}, drain ${JSON.stringify(engine.snapshot().lastDrain)}`,
        );
      } finally {
        await startKafka().catch(() => undefined);
        await engine.shutdown();
      }
    },
  );
  // Not on @platformatic/kafka (docs/library.md, "Choosing a Kafka client"): its message stream ends once a
  // fetch has failed the client's four tries, a few seconds into a broker outage, and the session ends with
  // it (the engine then joins with a fresh consumer). What this test needs, a session that outlives the
  // outage, is kafkajs' alone; on platformatic the messages that finished during it are delivered again.
  it.skipIf(kafkaAdapter() === 'platformatic')(
    'messages that finish while the broker is down are committed once it is back, not processed again',
    { timeout: 300_000 },
    async () => {
      const topic = uniqueName('kafkaoutage');
      const groupId = uniqueName('g-kafkaoutage');
      await createTopic(t, topic, 1);
      const rec = new Recorder();
      // The "held" messages wait until the broker is stopped, so that they finish, and their batch's
      // commit is due, while nothing answers.
      const stopped = Promise.withResolvers<undefined>();
      let heldStarted = 0;
      const handler = rec.handler(async (m) => {
        if (!m.value?.toString().startsWith('held')) return;
        heldStarted += 1;
        await stopped.promise;
      });
      const key = `/maintenance/${uniqueName('svc')}`;
      const engine = makeEngine({ topic, groupId, key, handler });
      const commitFailures: string[] = [];
      engine.events.on('errorRecorded', (e) => {
        if (e.code === 'KAFKA_UNAVAILABLE' || e.code === 'COMMIT_FAILED') commitFailures.push(e.code);
      });
      let kafkaDown = false;
      engine.events.on('kafkaHealth', (h) => {
        if (!h.healthy) kafkaDown = true;
      });
      await engine.start();
      try {
        await produce(t, topic, 20, { prefix: 'first' });
        await waitFor(() => rec.distinct === 20);
        await waitFor(() => fullyCommitted(t, groupId, topic));
        await produce(t, topic, 30, { prefix: 'held' });
        await waitFor(() => heldStarted === 1, { message: 'the first held message running' });
        await stopKafka();
        stopped.resolve(undefined);
        await waitFor(() => rec.distinct === 50 && commitFailures.length > 0, {
          timeoutMs: 60_000,
          message: 'the held messages finished and their commit failed',
        });
        // An outage as long as a broker restart: until the kafkajs consumer gives up on the broker (its
        // session ends, and a new one fetches from the committed offset), or, while the commit is being
        // sent again, a dozen tries (about 13 s with the test's 20 ms backoff base and the 2 s cap).
        await waitFor(() => kafkaDown || commitFailures.length >= 12, {
          timeoutMs: 120_000,
          message: 'the consumer giving up on the broker, or the commit tried a dozen times',
        });
        await startKafka();
        await waitFor(
          async () => {
            await produce(t, topic, 10, { prefix: 'after' });
            return true;
          },
          { timeoutMs: 60_000, message: 'producing after Kafka is back' },
        );
        await waitFor(() => rec.distinct === 60, { timeoutMs: 120_000, message: 'all 60 processed' });
        await waitFor(() => fullyCommitted(t, groupId, topic), { timeoutMs: 60_000 });
        console.log(
          `[kafka-outage] 60 messages, 30 finished while the broker was down, duplicates ${rec.duplicates}, failed commits ${commitFailures.length}, session lost ${kafkaDown}`,
        );
        // They were finished, not in flight: nothing is processed twice.
        expect(rec.duplicates).toBe(0);
      } finally {
        await startKafka().catch(() => undefined);
        await engine.shutdown();
      }
    },
  );
});
