import { memberKey, parseMemberReport } from '@kmaint/common';
import { describe, expect, it } from 'vitest';
import { abortableDelay } from '@kmaint/common';
import {
  Recorder,
  committed,
  createTopic,
  fullyCommitted,
  groupMembers,
  makeEngine,
  produce,
  setSwitch,
  stateIs,
  useTools,
  uniqueName,
  waitFor,
} from './harness.ts';

const t = useTools();

function names(prefix: string): { topic: string; groupId: string; key: string } {
  return {
    topic: uniqueName(prefix),
    groupId: uniqueName(`g-${prefix}`),
    key: `/maintenance/${uniqueName('svc')}`,
  };
}

describe('draining in-flight messages', () => {
  it('slow in-flight messages finish before the group is left', async () => {
    const { topic, groupId, key } = names('slow');
    await createTopic(t, topic, 2);
    const rec = new Recorder();
    const release = Promise.withResolvers<undefined>();
    const slow = new Set(['slow-0', 'slow-1']);
    const memberId = uniqueName('pod');
    const engine = makeEngine({
      topic,
      groupId,
      key,
      memberId,
      handler: rec.handler(async (m) => {
        if (slow.has(m.value?.toString() ?? '')) await release.promise;
      }),
    });
    await engine.start();
    try {
      await produce(t, topic, 2, { partitions: 2, prefix: 'slow' });
      await waitFor(() => engine.snapshot().inFlight === 2, { message: 'two slow messages in flight' });
      await setSwitch(t, key, 'true');
      await waitFor(stateIs(engine, 'draining'));
      // Still a member while its messages run: leaving now would hand them to someone else half done.
      expect((await groupMembers(t, groupId)).clientIds).toHaveLength(1);
      expect(engine.snapshot().inFlight).toBe(2);
      // The member report tells the operator this pod is still draining, and with how much.
      await waitFor(async () => {
        const raw = await t.etcd.get(memberKey(key, memberId)).string();
        const r = raw === null ? null : parseMemberReport(raw);
        return r?.ok === true && r.value.state === 'draining' && r.value.inFlight === 2;
      });
      const released = performance.now();
      release.resolve(undefined);
      await waitFor(async () => (await groupMembers(t, groupId)).clientIds.length === 0, { intervalMs: 10 });
      const leftAfterMs = performance.now() - released;
      await waitFor(stateIs(engine, 'maintenance'));
      expect(rec.distinct).toBe(2);
      expect(await fullyCommitted(t, groupId, topic)).toBe(true);
      console.log(`[slow] in-flight released → left group after ${leftAfterMs.toFixed(0)} ms`);
    } finally {
      await engine.shutdown();
    }
  });

  it('mode pause waits for slow in-flight messages too, commits them and keeps the membership', async () => {
    const { topic, groupId, key } = names('slowpause');
    await createTopic(t, topic, 2);
    const rec = new Recorder();
    const release = Promise.withResolvers<undefined>();
    const engine = makeEngine({
      topic,
      groupId,
      key,
      handler: rec.handler(async (m) => {
        if (m.value?.toString().startsWith('slow')) await release.promise;
      }),
    });
    await engine.start();
    try {
      await produce(t, topic, 2, { partitions: 2, prefix: 'slow' });
      await waitFor(() => engine.snapshot().inFlight === 2, { message: 'two slow messages in flight' });
      await setSwitch(t, key, { enabled: true, mode: 'pause' });
      await waitFor(stateIs(engine, 'draining'));
      await produce(t, topic, 10, { partitions: 2, prefix: 'later' });
      release.resolve(undefined);
      await waitFor(stateIs(engine, 'maintenance'));
      expect(engine.snapshot().lastDrain).toMatchObject({ mode: 'pause', timedOut: false, leftInFlight: 0 });
      expect(rec.distinct).toBe(2);
      const c = await committed(t, groupId, topic);
      expect([c.get(0), c.get(1)]).toEqual([1n, 1n]);
      expect((await groupMembers(t, groupId)).clientIds).toHaveLength(1);
      await setSwitch(t, key, { enabled: false, mode: 'pause' });
      await waitFor(() => rec.distinct === 12);
      await waitFor(() => fullyCommitted(t, groupId, topic));
      expect(rec.duplicates).toBe(0);
    } finally {
      await engine.shutdown();
    }
  });

  it('a drain timeout aborts in-flight handlers; they are processed again after resume', async () => {
    const { topic, groupId, key } = names('timeout');
    await createTopic(t, topic, 1);
    const rec = new Recorder();
    let blocking = true;
    const engine = makeEngine({
      topic,
      groupId,
      key,
      handler: rec.handler(async (m, signal) => {
        // Message 3 hangs (honouring its abort signal) until the test lets it through.
        if (m.offset === '3' && blocking) await abortableDelay(600_000, signal);
      }),
      overrides: { processing: { maxWorkers: 1 } },
    });
    await engine.start();
    try {
      await produce(t, topic, 6);
      await waitFor(() => rec.distinct === 3 && engine.snapshot().inFlight === 1, {
        message: 'stuck on offset 3',
      });
      await setSwitch(t, key, { enabled: true, mode: 'drain', drainTimeoutSeconds: 0.5 });
      await waitFor(stateIs(engine, 'maintenance'));
      expect(engine.snapshot().lastDrain).toMatchObject({ timedOut: true, leftInFlight: 1 });
      expect((await committed(t, groupId, topic)).get(0)).toBe(3n);
      expect((await groupMembers(t, groupId)).clientIds).toHaveLength(0);

      blocking = false;
      await setSwitch(t, key, 'false');
      await waitFor(() => rec.distinct === 6, { message: 'all six processed after resume' });
      await waitFor(() => fullyCommitted(t, groupId, topic));
      expect(rec.seen.get(`${topic}/0/3`)).toBe(1);
      expect(rec.duplicates).toBe(0);
    } finally {
      await engine.shutdown();
    }
  });

  it('out-of-order completion never commits past an unfinished or failed message', async () => {
    const { topic, groupId, key } = names('order');
    await createTopic(t, topic, 1);
    const rec = new Recorder();
    const release = Promise.withResolvers<undefined>();
    const engine = makeEngine({
      topic,
      groupId,
      key,
      handler: rec.handler(async (m) => {
        const v = m.value?.toString();
        if (v === 'k-0') await release.promise;
        if (v === 'k-6') throw new Error('always fails');
      }),
      overrides: {
        kafka: { batchSize: 1 },
        // An illegal DLQ topic name: dead-lettering fails, so the failed message must stay uncommitted.
        processing: { orderBy: 'key', maxWorkers: 5, maxRetries: 1, dlqTopicSuffix: '/no-such-topic' },
      },
    });
    await engine.start();
    try {
      await produce(t, topic, 10, { key: (i) => `key-${i}`, prefix: 'k' });
      // Nine of ten finish (the failing one counts as done with its attempts) while offset 0 still runs.
      await waitFor(() => rec.distinct === 8 && engine.counters().failed === 1, {
        message: 'all but 0 and 6',
      });
      expect((await committed(t, groupId, topic)).get(0)).toBe(-1n);
      release.resolve(undefined);
      await waitFor(() => rec.distinct === 9);
      await setSwitch(t, key, 'true');
      await waitFor(stateIs(engine, 'maintenance'));
      expect((await committed(t, groupId, topic)).get(0)).toBe(6n);
      expect(engine.counters().errors.some((e) => e.code === 'DLQ_FAILED' && e.offset === '6')).toBe(true);
    } finally {
      await engine.shutdown();
    }
  });

  it('starting while the switch is on consumes nothing until it goes off', async () => {
    const { topic, groupId, key } = names('starton');
    await createTopic(t, topic, 2);
    await setSwitch(t, key, 'on');
    await produce(t, topic, 20, { partitions: 2 });
    const rec = new Recorder();
    const engine = makeEngine({ topic, groupId, key, handler: rec.handler() });
    await engine.start();
    try {
      expect(engine.snapshot().state).toBe('maintenance');
      const g = await groupMembers(t, groupId);
      expect(g.clientIds).toHaveLength(0);
      expect(rec.processedTotal).toBe(0);
      await setSwitch(t, key, 'OFF');
      await waitFor(() => rec.distinct === 20);
      await waitFor(() => fullyCommitted(t, groupId, topic));
    } finally {
      await engine.shutdown();
    }
  });
});
