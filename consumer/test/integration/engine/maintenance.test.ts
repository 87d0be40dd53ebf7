import { describe, expect, it } from 'vitest';
import {
  scenario,
  fullyCommitted,
  groupMembers,
  produce,
  setSwitch,
  stateIs,
  useTools,
  waitFor,
} from './harness.ts';

const t = useTools();

describe('maintenance through the etcd switch', () => {
  it('mode drain: leaves the group, processes nothing in maintenance, resumes from the commits', async () => {
    const { topic, groupId, key, rec, engine } = await scenario(t, 'drain', 3);
    await engine.start();
    try {
      await produce(t, topic, 300, { partitions: 3 });
      await waitFor(() => rec.distinct === 300, { message: '300 processed' });
      await waitFor(() => fullyCommitted(t, groupId, topic), { message: 'all committed' });
      expect((await groupMembers(t, groupId)).clientIds).toHaveLength(1);

      const switchedAt = performance.now();
      await setSwitch(t, key, 'true');
      await waitFor(stateIs(engine, 'maintenance'), { intervalMs: 5, message: 'maintenance' });
      const members = await waitFor(
        async () => {
          const g = await groupMembers(t, groupId);
          return g.clientIds.length === 0 ? g : null;
        },
        { intervalMs: 5 },
      );
      const leftGroupMs = performance.now() - switchedAt;
      expect(members.state).toBe('Empty');
      expect(await fullyCommitted(t, groupId, topic)).toBe(true);

      const before = rec.processedTotal;
      await produce(t, topic, 90, { partitions: 3, prefix: 'during' });
      expect((await engine.stats()).partitions.reduce((n, p) => n + p.lag, 0)).toBe(90);
      expect(rec.processedTotal).toBe(before);

      await setSwitch(t, key, 'false');
      await waitFor(stateIs(engine, 'running'), { message: 'running again' });
      await waitFor(() => rec.distinct === 390, { message: '390 processed' });
      await waitFor(() => fullyCommitted(t, groupId, topic), { message: 'all committed after resume' });
      expect(rec.duplicates).toBe(0);
      const snap = engine.snapshot();
      expect(snap.lastDrain).toMatchObject({ mode: 'drain', timedOut: false, leftInFlight: 0 });
      console.log(
        `[drain] switch-on → left group observed after ${leftGroupMs.toFixed(0)} ms; drain ${snap.lastDrain?.durationMs.toFixed(0)} ms`,
      );
    } finally {
      await engine.shutdown();
    }
  });

  it('mode pause: stays in the group and processes nothing until off', async () => {
    const { topic, groupId, key, rec, engine } = await scenario(t, 'pause', 3);
    await engine.start();
    try {
      await produce(t, topic, 60, { partitions: 3 });
      await waitFor(() => rec.distinct === 60);
      await setSwitch(t, key, { enabled: true, mode: 'pause', reason: 'test pause' });
      await waitFor(stateIs(engine, 'maintenance'), { message: 'maintenance' });
      expect(engine.snapshot()).toMatchObject({ mode: 'pause', reason: 'test pause' });
      await waitFor(() => fullyCommitted(t, groupId, topic), { message: 'all committed' });
      const g = await groupMembers(t, groupId);
      expect(g.state).toBe('Stable');
      expect(g.clientIds).toHaveLength(1);

      const before = rec.processedTotal;
      await produce(t, topic, 30, { partitions: 3, prefix: 'during' });
      // The member keeps heartbeating; still a member after the produce round trip, and nothing consumed.
      expect((await groupMembers(t, groupId)).clientIds).toHaveLength(1);
      expect(rec.processedTotal).toBe(before);

      await setSwitch(t, key, { enabled: false, mode: 'pause' });
      await waitFor(stateIs(engine, 'running'));
      await waitFor(() => rec.distinct === 90, { message: '90 processed' });
      await waitFor(() => fullyCommitted(t, groupId, topic));
      expect(rec.duplicates).toBe(0);
    } finally {
      await engine.shutdown();
    }
  });

  it('a shutdown that arrives during start waits for it, then leaves nothing behind', async () => {
    const { groupId, engine } = await scenario(t, 'earlystop', 1);
    const starting = engine.start();
    await engine.shutdown();
    await starting;
    expect(engine.snapshot()).toMatchObject({ stopped: true });
    expect((await groupMembers(t, groupId)).clientIds).toHaveLength(0);
  });
});
