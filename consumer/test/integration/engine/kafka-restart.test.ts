import { describe, expect, it } from 'vitest';
import { restartKafka, startKafka, stopKafka } from '../../../../test/env/control.ts';
import { scenario, fullyCommitted, produce, setSwitch, stateIs, useTools, waitFor } from './harness.ts';

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
});
