import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import { startEtcd, stopEtcd } from '../../../test/env/control.ts';
import {
  apiserverLink,
  CONDITION,
  condition,
  createNamespace,
  removeNamespaces,
  createWindow,
  etcdClient,
  getWindow,
  httpPort,
  installCrd,
  kube,
  logged,
  patchWindowSpec,
  readSwitch,
  reportMember,
  startLocalOperator,
} from './support.ts';

const k = kube();
// Both outages share one etcd client and one cleanup list, closed after the last test of the file.
const etcd = etcdClient();
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  await installCrd(k);
});
afterAll(async () => {
  await removeNamespaces(k);
  for (const fn of cleanup) await fn();
  etcd.close();
});

describe('an apiserver outage (a relay in front of the real apiserver is cut and restored)', () => {
  it('watches restart and the operator catches up on what changed while it was cut off', async () => {
    const link = await apiserverLink(k);
    cleanup.push(() => link.close());
    const namespace = uniqueName('mw-apiserver');
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace, { KUBECONFIG: link.kubeconfig });
    cleanup.push(() => operator.stop());
    const first = uniqueName('svc');
    const second = uniqueName('svc');
    await createWindow(k, namespace, 'first', { target: { name: first } });
    await waitFor(async () => (await readSwitch(etcd, `/maintenance/${first}`))?.enabled === true, {
      message: 'first key on',
    });

    link.cut();
    const cutAt = Date.now();
    // Changed behind the operator's back, through the test's own connection.
    await patchWindowSpec(k, namespace, 'first', { suspend: true });
    await createWindow(k, namespace, 'second', { target: { name: second } });
    await waitFor(() => logged(operator.lines, 'watch failed; restarting') >= 6, {
      message: 'both informers to fail three times each',
      timeoutMs: 60_000,
    });
    expect((await readSwitch(etcd, `/maintenance/${first}`))?.enabled).toBe(true);
    expect((await fetch(`http://127.0.0.1:${httpPort(operator)}/livez`)).status).toBe(200);
    link.restore();
    const restoredAt = Date.now();

    await waitFor(async () => (await readSwitch(etcd, `/maintenance/${first}`))?.enabled === false, {
      message: 'first key off after the apiserver came back',
      timeoutMs: 90_000,
    });
    await waitFor(async () => (await readSwitch(etcd, `/maintenance/${second}`))?.enabled === true, {
      message: 'second key on after the apiserver came back',
      timeoutMs: 90_000,
    });
    await waitFor(
      async () =>
        condition((await getWindow(k, namespace, 'second')).status, CONDITION.Active)?.status === 'True',
      {
        message: 'status of the window created during the cut',
      },
    );
    console.log(
      `apiserver cut ${restoredAt - cutAt} ms; caught up ${Date.now() - restoredAt} ms after it was back; ` +
        `watch restarts with delays ${operator.lines
          .filter((l) => l.includes('watch failed; restarting'))
          .map(
            (l) =>
              `${(JSON.parse(l) as { informer: string }).informer}:${(JSON.parse(l) as { retryInMs: number }).retryInMs}`,
          )
          .join(' ')}`,
    );
  });
});

describe('a leader cut off from the apiserver', () => {
  it('steps down past the renew deadline, leads again once back, and its restarted controller works', async () => {
    const link = await apiserverLink(k);
    cleanup.push(() => link.close());
    const namespace = uniqueName('mw-stepdown');
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace, {
      KUBECONFIG: link.kubeconfig,
      LEADER_ELECTION: 'true',
      LEADER_ELECTION_NAMESPACE: namespace,
      LEASE_DURATION: '6s',
    });
    cleanup.push(() => operator.stop());
    const target = uniqueName('svc');
    const key = `/maintenance/${target}`;
    await createWindow(k, namespace, 'w', { target: { name: target } });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === true, { message: 'key on' });

    link.cut();
    await waitFor(() => logged(operator.lines, 'lost the lease: stepping down') === 1, {
      message: 'the leader to step down',
      timeoutMs: 30_000,
    });
    await waitFor(() => logged(operator.lines, 'controller stopped') === 1, {
      message: 'controller stopped',
    });
    expect(operator.isLeader()).toBe(false);
    await patchWindowSpec(k, namespace, 'w', { suspend: true });
    link.restore();

    await waitFor(() => logged(operator.lines, 'became leader') === 2, {
      message: 'leading again',
      timeoutMs: 30_000,
    });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === false, {
      message: 'the restarted controller to turn the key off',
    });
    expect(logged(operator.lines, 'controller started')).toBe(2);
  });
});

describe('an etcd outage (real etcd stopped and started through the env control channel)', () => {
  const etcd = etcdClient();
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    await installCrd(k);
  });
  afterAll(async () => {
    await startEtcd(); // leave the shared server up whatever happened
    await removeNamespaces(k);
    await stop?.();
    etcd.close();
  });

  it('the operator keeps running, retries, and catches up on keys and member reports once etcd is back', async () => {
    const namespace = uniqueName('mw-outage');
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace);
    stop = () => operator.stop();
    const first = uniqueName('svc');
    const second = uniqueName('svc');
    await createWindow(k, namespace, 'first', { target: { name: first } });
    await waitFor(async () => (await readSwitch(etcd, `/maintenance/${first}`))?.enabled === true, {
      message: 'first key on',
    });

    await stopEtcd();
    const downAt = Date.now();
    await patchWindowSpec(k, namespace, 'first', { suspend: true });
    await createWindow(k, namespace, 'second', { target: { name: second } });
    await waitFor(() => logged(operator.lines, 'reconcile failed; will retry') >= 2, {
      message: 'the operator to fail and schedule retries',
      timeoutMs: 60_000,
    });
    expect((await fetch(`http://127.0.0.1:${httpPort(operator)}/livez`)).status).toBe(200);
    await startEtcd();
    const upAt = Date.now();

    await waitFor(async () => (await readSwitch(etcd, `/maintenance/${first}`))?.enabled === false, {
      message: 'first key off after etcd came back',
      timeoutMs: 90_000,
    });
    await waitFor(async () => (await readSwitch(etcd, `/maintenance/${second}`))?.enabled === true, {
      message: 'second key on after etcd came back',
      timeoutMs: 90_000,
    });
    console.log(
      `etcd down ${upAt - downAt} ms; keys caught up ${Date.now() - upAt} ms after it was back; ` +
        `${logged(operator.lines, 'reconcile failed; will retry')} retried reconciles`,
    );

    // Member reports written after the outage still reach the status (watch resumed or re-read).
    await reportMember(etcd, `/maintenance/${second}`, 'host-a', 'maintenance');
    const s = await waitFor(
      async () => {
        const st = (await getWindow(k, namespace, 'second')).status;
        return st?.pods?.drained === 1 ? st : undefined;
      },
      { message: 'Drained from a report written after the outage', timeoutMs: 60_000 },
    );
    expect(s.pods).toMatchObject({ selected: 1, drained: 1 });
    expect(condition(s, CONDITION.Drained)?.status).toBe('True');
  });
});
