import { connect, createServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import {
  CONDITION,
  condition,
  createNamespace,
  createWindow,
  etcdClient,
  getWindow,
  httpPort,
  installCrd,
  kube,
  logged,
  removeNamespaces,
  reportMember,
  startLocalOperator,
} from './support.ts';

const k = kube();
const etcd = etcdClient();

/** A TCP relay in front of the real etcd that the test can cut and restore, for the operator's client. */
async function etcdRelay() {
  const upstream = new URL(
    (inject('etcdEndpoints').split(',')[0] ?? '').replace(/^(?!https?:\/\/)/, 'http://'),
  );
  const sockets = new Set<Socket>();
  let open = true;
  const server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const remote = connect(Number(upstream.port), upstream.hostname);
    for (const s of [client, remote]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(remote).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut: () => {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore: () => {
      open = true;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** No window reconcile since the last look, a second ago: the work queue has settled. */
let lastCount = -1;
async function quiet(operator: Parameters<typeof httpPort>[0]): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const text = await (await fetch(`http://127.0.0.1:${httpPort(operator)}/metrics`)).text();
  const count = [...text.matchAll(/^kmaint_operator_reconciles_total\{kind="window",[^}]*\} (\d+)/gm)].reduce(
    (sum, m) => sum + Number(m[1]),
    0,
  );
  const settled = count === lastCount;
  lastCount = count;
  return settled;
}

describe('the member watch survives an etcd compaction (real etcd)', () => {
  beforeAll(async () => {
    await installCrd(k);
  });
  afterAll(async () => {
    await removeNamespaces(k);
    etcd.close();
  });

  it('a watch resumed from a compacted revision is set up again, and member changes arrive', async () => {
    const namespace = uniqueName('mw-compact');
    await createNamespace(k, namespace);
    const relay = await etcdRelay();
    // A long drain poll, so only the watch can bring the member change in time for the test.
    const operator = await startLocalOperator(namespace, { ETCD_ENDPOINTS: relay.endpoint });
    try {
      const target = uniqueName('svc');
      const key = `/maintenance/${target}`;
      await createWindow(k, namespace, 'w', { target: { name: target } });
      await reportMember(etcd, key, 'pod-a', 'running');
      await waitFor(
        async () =>
          condition((await getWindow(k, namespace, 'w')).status, CONDITION.Drained)?.reason === 'Draining',
        {
          message: 'the member seen through the watch',
        },
      );
      relay.cut();
      // While the operator is cut off, the members move on and etcd compacts their history away.
      for (let i = 0; i < 5; i++) await etcd.put(`${key}/members/noise`).value(String(i));
      await etcd.delete().key(`${key}/members/noise`).exec();
      const { header } = await etcd.get(key).exec();
      await etcd.kv.compact({ revision: header.revision, physical: true });
      relay.restore();
      await reportMember(etcd, key, 'pod-a', 'maintenance');
      await waitFor(
        async () =>
          condition((await getWindow(k, namespace, 'w')).status, CONDITION.Drained)?.status === 'True',
        { message: 'the drained member seen', timeoutMs: 60_000 },
      );
      // Once drained the operator stops polling; once its own status update has come back through the
      // informer it has nothing left to do, and only a live watch brings the next change.
      await waitFor(() => quiet(operator), { message: 'the operator idle', timeoutMs: 60_000 });
      await reportMember(etcd, key, 'pod-a', 'running');
      await waitFor(
        async () =>
          condition((await getWindow(k, namespace, 'w')).status, CONDITION.Drained)?.status === 'False',
        { message: 'the member back to running seen through the watch' },
      );
      expect(logged(operator.lines, 'member watch failed; watching again')).toBeGreaterThan(0);
    } finally {
      await operator.stop();
      await relay.close();
    }
  });
});
