import { memberKey, parseMemberReport } from '@kmaint/common';
import { describe, expect, it } from 'vitest';
import { killEtcd, restartEtcd, startEtcd } from '../../../../test/env/control.ts';
import {
  Recorder,
  scenario,
  createTopic,
  fullyCommitted,
  makeEngine,
  produce,
  setSwitch,
  stateIs,
  useTools,
  uniqueName,
  waitFor,
  type Tools,
} from './harness.ts';

const t = useTools();

async function compactNow(tools: Tools): Promise<void> {
  const { header } = await tools.etcd.get('/').exec();
  await tools.etcd.kv.compact({ revision: header.revision, physical: true });
}

describe('the etcd maintenance switch', () => {
  it(
    'follows toggles across compactions and an etcd restart and kill; no toggle missed',
    { timeout: 300_000 },
    async () => {
      const { topic, groupId, key, rec, engine } = await scenario(t, 'switch', 2);
      const restarts: string[] = [];
      engine.events.on('watchRestart', ({ reason }) => restarts.push(reason));
      const etcdDown: boolean[] = [];
      engine.events.on('etcdHealth', (h) => etcdDown.push(!h.healthy));
      await engine.start();
      let produced = 0;
      const more = async (n: number): Promise<void> => {
        await produce(t, topic, n, { partitions: 2, prefix: `p${produced}` });
        produced += n;
      };
      try {
        // Toggles with the history compacted after each: the live watch is not disturbed.
        for (let i = 0; i < 4; i++) {
          await setSwitch(t, key, i % 2 === 0 ? 'yes' : 'no');
          await compactNow(t);
          await waitFor(stateIs(engine, i % 2 === 0 ? 'maintenance' : 'running'), { message: `toggle ${i}` });
        }
        await more(50);
        await waitFor(() => rec.distinct === produced);

        // A restart breaks the watch: it re-reads and re-watches, then sees the next toggle.
        await restartEtcd();
        await setSwitch(t, key, 'true');
        await waitFor(stateIs(engine, 'maintenance'), {
          timeoutMs: 60_000,
          message: 'maintenance after restart',
        });

        // Killed while in maintenance (keep policy: stays put); the toggle written the moment etcd is back,
        // while the watcher is still reconnecting, is found by its re-read.
        await killEtcd();
        await waitFor(() => !engine.snapshot().components.etcd.healthy, { message: 'etcd reported down' });
        expect(engine.snapshot().state).toBe('maintenance');
        await startEtcd();
        await compactNow(t);
        await setSwitch(t, key, 'false');
        await waitFor(stateIs(engine, 'running'), { timeoutMs: 60_000, message: 'running after kill' });
        await waitFor(() => engine.snapshot().components.etcd.healthy, { message: 'etcd reported healthy' });

        await more(50);
        await waitFor(() => rec.distinct === produced);
        await waitFor(() => fullyCommitted(t, groupId, topic));
        expect(rec.duplicates).toBe(0);
        expect(restarts.length).toBeGreaterThanOrEqual(2);
        expect(etcdDown).toContain(true);
        console.log(`[switch] watch restarts: ${restarts.length} (${[...new Set(restarts)].join('; ')})`);
      } finally {
        // The servers are shared: leave etcd running whatever happened.
        await startEtcd().catch(() => undefined);
        await engine.shutdown();
      }
    },
  );

  it(
    'keeps running while etcd is down (keep policy) and catches up when it returns',
    { timeout: 300_000 },
    async () => {
      const { topic, key, rec, engine } = await scenario(t, 'etcddown', 1);
      await engine.start();
      try {
        await killEtcd();
        await waitFor(() => !engine.snapshot().components.etcd.healthy, { message: 'etcd reported down' });
        await produce(t, topic, 25);
        await waitFor(() => rec.distinct === 25, { message: 'consumed while etcd is down' });
        expect(engine.snapshot().state).toBe('running');
        await startEtcd();
        await setSwitch(t, key, 'true');
        await waitFor(stateIs(engine, 'maintenance'), { timeoutMs: 60_000 });
      } finally {
        await startEtcd().catch(() => undefined);
        await engine.shutdown();
      }
    },
  );

  it(
    'with ETCD_UNAVAILABLE=maintenance, losing etcd drains, and its return resumes',
    { timeout: 300_000 },
    async () => {
      const topic = uniqueName('etcdpolicy');
      const groupId = uniqueName('g-etcdpolicy');
      const key = `/maintenance/${uniqueName('svc')}`;
      await createTopic(t, topic, 1);
      const rec = new Recorder();
      const engine = makeEngine({
        topic,
        groupId,
        key,
        handler: rec.handler(),
        overrides: { etcdUnavailable: 'maintenance' },
      });
      await engine.start();
      try {
        await waitFor(stateIs(engine, 'running'));
        await killEtcd();
        await waitFor(stateIs(engine, 'maintenance'), {
          timeoutMs: 60_000,
          message: 'maintenance while etcd is down',
        });
        expect(engine.snapshot().reason).toMatch(/etcd unavailable/);
        await startEtcd();
        await waitFor(stateIs(engine, 'running'), {
          timeoutMs: 60_000,
          message: 'running once etcd is back',
        });
      } finally {
        await startEtcd().catch(() => undefined);
        await engine.shutdown();
      }
    },
  );

  it(
    'etcd down at start: keep starts consuming, maintenance starts out of the group; both catch up',
    { timeout: 300_000 },
    async () => {
      const topic = uniqueName('etcdstart');
      const key = `/maintenance/${uniqueName('svc')}`;
      await createTopic(t, topic, 1);
      const rec = new Recorder();
      const keep = makeEngine({ topic, groupId: uniqueName('g-keep'), key, handler: rec.handler() });
      const cautious = makeEngine({
        topic,
        groupId: uniqueName('g-cautious'),
        key,
        handler: rec.handler(),
        overrides: { etcdUnavailable: 'maintenance' },
      });
      await killEtcd();
      try {
        await Promise.all([keep.start(), cautious.start()]);
        expect(keep.snapshot().components.etcd.healthy).toBe(false);
        await waitFor(stateIs(keep, 'running'));
        expect(cautious.snapshot().state).toBe('maintenance');
        await produce(t, topic, 10);
        await waitFor(() => keep.counters().processed === 10, { message: 'keep consumes without etcd' });
        expect(cautious.counters().processed).toBe(0);

        await startEtcd();
        await waitFor(stateIs(cautious, 'running'), {
          timeoutMs: 60_000,
          message: 'cautious resumes once etcd answers',
        });
        await waitFor(() => cautious.counters().processed === 10);
        await setSwitch(t, key, 'true');
        await waitFor(
          () => keep.snapshot().state === 'maintenance' && cautious.snapshot().state === 'maintenance',
          {
            timeoutMs: 60_000,
            message: 'both follow the switch',
          },
        );
      } finally {
        await startEtcd().catch(() => undefined);
        await Promise.all([keep.shutdown(), cautious.shutdown()]);
      }
    },
  );

  it('an unparseable value keeps the state and is reported; the member report follows the state', async () => {
    const topic = uniqueName('invalid');
    const groupId = uniqueName('g-invalid');
    const key = `/maintenance/${uniqueName('svc')}`;
    const memberId = uniqueName('pod');
    await createTopic(t, topic, 1);
    const rec = new Recorder();
    const engine = makeEngine({ topic, groupId, key, memberId, handler: rec.handler() });
    const invalid: string[] = [];
    engine.events.on('invalidSwitch', (e) => invalid.push(e.raw));
    await engine.start();
    const report = async (): Promise<ReturnType<typeof parseMemberReport> | null> => {
      const raw = await t.etcd.get(memberKey(key, memberId)).string();
      return raw === null ? null : parseMemberReport(raw);
    };
    try {
      await waitFor(stateIs(engine, 'running'));
      await waitFor(async () => {
        const r = await report();
        return r?.ok === true && r.value.state === 'running';
      });
      await setSwitch(t, key, 'maybe');
      await waitFor(() => invalid.includes('maybe'), { message: 'invalid value reported' });
      expect(engine.snapshot().state).toBe('running');
      expect(engine.snapshot().invalidSwitch).toMatchObject({ raw: 'maybe' });

      await setSwitch(t, key, { enabled: true, mode: 'drain', reason: 'upgrade', window: 'ns/w1' });
      await waitFor(stateIs(engine, 'maintenance'));
      expect(engine.snapshot()).toMatchObject({ reason: 'upgrade', window: 'ns/w1', mode: 'drain' });
      await setSwitch(t, key, '{"enabled": tru');
      await waitFor(() => invalid.length === 2);
      expect(engine.snapshot().state).toBe('maintenance');
      const drained = await waitFor(async () => {
        const r = await report();
        return r?.ok === true && r.value.state === 'maintenance' ? r.value : null;
      });
      expect(drained).toMatchObject({ id: memberId, window: 'ns/w1', inFlight: 0 });
      expect(drained.drainedAt).not.toBeNull();
    } finally {
      await engine.shutdown();
    }
    // The lease is revoked on shutdown: the report goes with the process.
    expect(await report()).toBeNull();
  });
});
