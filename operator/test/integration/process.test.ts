import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import { REASON } from '../../src/core/conditions.ts';
import {
  CONDITION,
  condition,
  createNamespace,
  removeNamespaces,
  createWindow,
  etcdClient,
  getWindow,
  installCrd,
  kube,
  logged,
  patchWindowSpec,
  readSwitch,
  recordKey,
  spawnOperator,
  type OperatorProcess,
} from './support.ts';

const k = kube();
const leases = k.kc.makeApiClient(CoordinationV1Api);
const etcd = etcdClient();
const LEASE_SECONDS = 6;

async function holder(namespace: string, name: string): Promise<string | undefined> {
  try {
    return (await leases.readNamespacedLease({ name, namespace })).spec?.holderIdentity ?? undefined;
  } catch {
    return undefined;
  }
}

describe('the operator as a process (node operator/src/main.ts) against the real apiserver and etcd', () => {
  const running: OperatorProcess[] = [];
  const spawn = (env: Record<string, string>): OperatorProcess => {
    const p = spawnOperator(env);
    running.push(p);
    return p;
  };

  beforeAll(async () => {
    await installCrd(k);
  });
  afterAll(async () => {
    await removeNamespaces(k);
    etcd.close();
  });
  afterEach(async () => {
    for (const p of running.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }
  });

  it('two replicas: only the leader writes; killed, the other takes over within the lease time', async () => {
    const namespace = uniqueName('mw-leader');
    await createNamespace(k, namespace);
    const lease = uniqueName('lease');
    const target = uniqueName('svc');
    const key = `/maintenance/${target}`;
    const env = (id: string) => ({
      POD_NAME: id,
      WATCH_NAMESPACE: namespace,
      LEADER_ELECTION_NAMESPACE: namespace,
      LEADER_ELECTION_LEASE_NAME: lease,
      LEASE_DURATION: `${LEASE_SECONDS}s`,
    });
    const a = spawn(env('op-a'));
    await waitFor(() => holder(namespace, lease).then((h) => h === 'op-a'), { message: 'op-a to lead' });
    const b = spawn(env('op-b'));
    await waitFor(() => logged(b.output, 'operator started') === 1, { message: 'op-b to start' });

    const recording = await recordKey(etcd, key);
    await createWindow(k, namespace, 'w', { target: { name: target } });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === true, { message: 'key on' });
    await waitFor(async () => (await etcd.get(key).exec()).kvs[0]?.lease === '0', {
      message: 'key written for good',
    });
    // Let op-b run through a few lease rounds as a standby.
    await waitFor(() => logged(b.output, 'lease held by another instance', { holder: 'op-a' }) >= 3, {
      message: 'op-b to try for the lease three times',
    });
    // Once on the provisional lease, before the finalizer; once for good, after it.
    expect(logged(a.output, 'switch key on', { provisional: true })).toBe(1);
    expect(logged(a.output, 'switch key on', { provisional: false })).toBe(1);
    expect(logged(b.output, 'switch key on')).toBe(0);
    expect(logged(b.output, 'became leader')).toBe(0);
    expect(await holder(namespace, lease)).toBe('op-a');

    const killedAt = Date.now();
    a.child.kill('SIGKILL');
    await a.exited;
    await waitFor(() => holder(namespace, lease).then((h) => h === 'op-b'), {
      message: 'op-b to take the lease over',
      timeoutMs: (LEASE_SECONDS + 15) * 1_000,
      intervalMs: 100,
    });
    const takeoverMs = Date.now() - killedAt;
    await waitFor(() => logged(b.output, 'controller started') === 1, {
      message: 'op-b to run the controller',
    });
    console.log(`leader killed: op-b holds the lease ${takeoverMs} ms later (lease ${LEASE_SECONDS}s)`);

    // The new leader does the writing now.
    await patchWindowSpec(k, namespace, 'w', { suspend: true });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === false, {
      message: 'key off by op-b',
    });
    expect(logged(b.output, 'switch key off')).toBe(1);
    await recording.stop();
    // The first two are the same value, provisional and then for good.
    expect(recording.values.map((v) => JSON.parse(v).enabled)).toEqual([true, true, false]);
    expect(recording.values[0]).toBe(recording.values[1]);

    // A graceful stop releases the lease and exits 0.
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(logged(b.output, 'released the lease')).toBe(1);
  });

  it('restart mid-window: state is re-derived and the key does not flap', async () => {
    const namespace = uniqueName('mw-restart');
    await createNamespace(k, namespace);
    const target = uniqueName('svc');
    const key = `/maintenance/${target}`;
    const env = { POD_NAME: 'op', WATCH_NAMESPACE: namespace, LEADER_ELECTION: 'false' };

    const recording = await recordKey(etcd, key);
    const first = spawn(env);
    await createWindow(k, namespace, 'w', {
      target: { name: target },
      reason: 'restart test',
      schedule: { end: new Date(Date.now() + 10 * 60_000).toISOString() },
    });
    const before = await waitFor(
      async () => {
        const s = (await getWindow(k, namespace, 'w')).status;
        return condition(s, CONDITION.Active)?.status === 'True' ? s : undefined;
      },
      { message: 'window active' },
    );
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === true, { message: 'key on' });
    await waitFor(async () => (await etcd.get(key).exec()).kvs[0]?.lease === '0', {
      message: 'key written for good',
    });

    first.child.kill('SIGKILL');
    await first.exited;
    const second = spawn(env);
    // The new process has reconciled both the window and its key.
    await waitFor(
      () =>
        logged(second.output, 'reconciled', { item: `k:${key}` }) >= 1 &&
        logged(second.output, 'reconciled', { item: `w:${namespace}/w` }) >= 1,
      {
        message: 'the restarted operator to reconcile',
      },
    );
    const reconciles = logged(second.output, 'reconciled');
    const after = (await getWindow(k, namespace, 'w')).status;
    await recording.stop();

    console.log(
      `restart: ${recording.values.length} write(s) to the key over both runs; ${reconciles} reconciles after restart`,
    );
    // The first run wrote the value twice (on its provisional lease, then for good); the second none.
    expect(recording.values).toHaveLength(2);
    expect(recording.values[1]).toBe(recording.values[0]);
    expect(JSON.parse(recording.values[0] as string)).toMatchObject({
      enabled: true,
      reason: 'restart test',
    });
    expect(logged(second.output, 'switch key on')).toBe(0);
    expect(condition(after, CONDITION.Active)).toEqual(condition(before, CONDITION.Active));
    expect(condition(after, CONDITION.Active)?.reason).toBe(REASON.WindowOpen);
    // No transition, so no second WindowOpen event either.
    expect(logged(second.output, condition(before, CONDITION.Active)?.message ?? '')).toBe(0);
  });
});
