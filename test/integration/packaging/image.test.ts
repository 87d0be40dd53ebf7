import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cluster } from '../../../service/test/integration/api/cluster.ts';
import {
  createNamespace,
  createWindow,
  etcdClient,
  installCrd,
  kube,
  readSwitch,
  removeNamespaces,
} from '../../../operator/test/integration/support.ts';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { buildImages, podman, podmanOk, type Images } from '../../env/images.ts';
import { freePort } from '../../env/ports.ts';

// The images built from the Dockerfile (test/env/build-images.sh, podman, no registry) and run as
// containers against the test environment's real Kafka, etcd and kube-apiserver, on the host network:
// read-only root filesystem without any tmpfs, all capabilities dropped, no privilege escalation and
// the image's own user, as the chart's securityContext runs them.

let images: Images;
let dir = '';
const started: string[] = [];

beforeAll(async () => {
  images = await buildImages();
  dir = mkdtempSync(join(tmpdir(), 'kmaint-image-'));
}, 1_800_000);

afterAll(async () => {
  if (started.length > 0) await podman(images, ['rm', '--force', '--volumes', '--time', '0', ...started]);
  rmSync(dir, { recursive: true, force: true });
});

function ref(target: string): string {
  const found = images.refs[target];
  if (found === undefined)
    throw new Error(`no image ${target}; built: ${Object.keys(images.refs).join(', ')}`);
  return found;
}

/** Starts a container of `target` detached, as the chart's securityContext would run it. */
async function run(
  target: string,
  env: Record<string, string>,
  extra: readonly string[] = [],
): Promise<string> {
  const name = uniqueName(`image-${target}`);
  started.push(name);
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  await podmanOk(images, [
    'run',
    '--detach',
    '--name',
    name,
    '--network',
    'host',
    '--read-only',
    '--read-only-tmpfs=false',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    ...envArgs,
    ...extra,
    ref(target),
  ]);
  return name;
}

/** The image's HEALTHCHECK command, run by podman inside the container (exit 0: healthy). */
async function healthcheck(name: string): Promise<boolean> {
  return (await podman(images, ['healthcheck', 'run', name])).code === 0;
}

async function get(port: number, path: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not every endpoint answers JSON (/metrics).
  }
  return { status: res.status, body };
}

function selfContained(kc: KubeConfig): string {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (cluster?.caFile === undefined || user === null) throw new Error('the test kubeconfig names no CA file');
  const { caFile, ...rest } = cluster;
  const copy = new KubeConfig();
  copy.loadFromOptions({
    clusters: [{ ...rest, caData: readFileSync(caFile).toString('base64') }],
    users: [user],
    contexts: [{ name: 'image', cluster: cluster.name, user: user.name }],
    currentContext: 'image',
  });
  return copy.exportConfig();
}

/** GoMaint's /messages/stats counter of messages the handler finished. */
async function processed(port: number): Promise<number | undefined> {
  return ((await get(port, '/messages/stats')).body as { kafka?: { processed?: number } }).kafka?.processed;
}

/** SIGTERM as `docker stop` and the kubelet send it; resolves to the container's exit code. */
async function terminate(name: string): Promise<number> {
  await podmanOk(images, ['kill', '--signal', 'TERM', name]);
  return Number((await podmanOk(images, ['wait', name], 120_000)).trim());
}

async function logs(name: string): Promise<string> {
  const result = await podman(images, ['logs', name]);
  return result.stdout + result.stderr;
}

describe('the images built from the Dockerfile', () => {
  it('are built for every runtime target', () => {
    expect(Object.keys(images.refs).sort()).toEqual([
      'agent',
      'debian',
      'java-consumer',
      'jre',
      'node',
      'operator',
      'orders-ledger',
      'service',
    ]);
  });

  it.each(['service', 'operator', 'agent'])(
    '%s: a numeric non-root user, production dependencies only, the workspace links intact',
    async (target) => {
      expect(
        (await podmanOk(images, ['image', 'inspect', '--format', '{{.Config.User}}', ref(target)])).trim(),
      ).toBe('1000:1000');
      const ls = await podmanOk(images, [
        'run',
        '--rm',
        '--read-only',
        '--entrypoint',
        'sh',
        ref(target),
        '-c',
        `id -u && ls /app/node_modules && readlink -f /app/node_modules/@kmaint/common && ls /app/${target}`,
      ]);
      const [uid, ...rest] = ls.trim().split('\n');
      expect(uid).toBe('1000');
      for (const devOnly of ['typescript', 'vitest', 'eslint', 'prettier', 'fast-check', 'node']) {
        expect(rest, devOnly).not.toContain(devOnly);
      }
      expect(rest).toContain('/app/common');
      expect(rest.slice(-2)).toEqual(['dist', 'package.json']);
      const other = target === 'operator' ? 'kafkajs' : '@kubernetes';
      expect(rest).not.toContain(other);
    },
  );

  it('service: serves the GoMaint API from Kafka and etcd, drains on the switch, and on SIGTERM drains, commits and exits 0', async () => {
    const cluster = new Cluster();
    await cluster.connect();
    try {
      const topic = uniqueName('image-topic');
      const group = uniqueName('image-group');
      const key = `/maintenance/${uniqueName('image')}`;
      await cluster.ensureTopics([topic], 2);
      const port = await freePort();
      const name = await run('service', {
        HTTP_PORT: String(port),
        KAFKA_BROKERS: inject('kafkaBrokers'),
        ETCD_ENDPOINTS: inject('etcdEndpoints'),
        KAFKA_TOPICS: topic,
        KAFKA_CONSUMER_GROUP: group,
        MAINTENANCE_KEY: key,
        MEMBER_ID: uniqueName('image-member'),
      });
      await waitFor(() => healthcheck(name), { timeoutMs: 90_000, message: 'the HEALTHCHECK to pass' });
      await waitFor(async () => (await get(port, '/readyz')).status === 200, {
        timeoutMs: 90_000,
        message: `/readyz 200; logs:\n${await logs(name)}`,
      });
      const health = await get(port, '/health');
      expect(health.status).toBe(200);
      expect(health.body).toMatchObject({ maintenance: { state: 'running' } });

      const sent = await fetch(`http://127.0.0.1:${port}/messages/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ topic, message: 'from the image test', key: 'k1' }),
      });
      expect(sent.status).toBeLessThan(300);
      await cluster.produce(topic, 50);
      await waitFor(async () => (await processed(port)) === 51, {
        timeoutMs: 60_000,
        message: 'the 51 messages processed',
      });

      await cluster.switchTo(key, 'true');
      await waitFor(
        async () =>
          ((await get(port, '/health')).body as { maintenance?: { state?: string } }).maintenance?.state ===
          'maintenance',
        { timeoutMs: 60_000, message: 'maintenance after the switch' },
      );
      expect((await get(port, '/readyz')).status).toBe(503);
      const drained = await cluster.offsets(group, topic);
      for (const p of drained) expect(p.committed, `partition ${p.partition}`).toBe(p.end);

      await cluster.switchTo(key, 'false');
      await waitFor(async () => (await get(port, '/readyz')).status === 200, {
        timeoutMs: 90_000,
        message: '/readyz 200 after the switch is off',
      });
      await cluster.produce(topic, 50, 'after');
      await waitFor(async () => (await processed(port)) === 101, {
        timeoutMs: 60_000,
        message: 'the 101 messages processed',
      });
      expect(await terminate(name)).toBe(0);
      const atExit = await cluster.offsets(group, topic);
      for (const p of atExit) expect(p.committed, `partition ${p.partition} at exit`).toBe(p.end);
      // The HEALTHCHECK fails once the process is gone (podman cannot even exec into it).
      expect(await healthcheck(name)).toBe(false);
    } finally {
      await cluster.close();
    }
  });

  it('operator: reconciles a window against the real apiserver (the switch in etcd goes on) and exits 0 on SIGTERM', async () => {
    const k = kube();
    const etcd = etcdClient();
    try {
      await installCrd(k);
      const namespace = uniqueName('image-operator');
      await createNamespace(k, namespace);
      // The admin kubeconfig with its CA inlined (the file it names is not in the container), mounted
      // read-only where KUBECONFIG points.
      const kubeconfig = join(dir, `${namespace}.kubeconfig`);
      writeFileSync(kubeconfig, selfContained(k.kc), { mode: 0o644 });
      const port = await freePort();
      const name = await run(
        'operator',
        {
          HTTP_PORT: String(port),
          KUBECONFIG: '/etc/kmaint/kubeconfig',
          ETCD_ENDPOINTS: inject('etcdEndpoints'),
          WATCH_NAMESPACE: namespace,
          LEADER_ELECTION: 'false',
          POD_NAME: uniqueName('image-operator-pod'),
        },
        ['--volume', `${kubeconfig}:/etc/kmaint/kubeconfig:ro`],
      );
      await waitFor(() => healthcheck(name), { timeoutMs: 90_000, message: 'the HEALTHCHECK to pass' });
      await waitFor(async () => (await get(port, '/readyz')).status === 200, {
        timeoutMs: 90_000,
        message: `/readyz 200; logs:\n${await logs(name)}`,
      });
      const target = uniqueName('image-target');
      await createWindow(k, namespace, 'now', { target: { name: target } });
      await waitFor(async () => (await readSwitch(etcd, `/maintenance/${target}`))?.['enabled'] === true, {
        timeoutMs: 60_000,
        message: 'the operator to turn the switch on',
      });
      expect(await terminate(name)).toBe(0);
    } finally {
      await removeNamespaces(k);
      etcd.close();
    }
  });

  it('agent: starts and answers its probes', async () => {
    const port = await freePort();
    const name = await run('agent', {
      AGENT_PORT: String(port),
      ETCD_ENDPOINTS: inject('etcdEndpoints'),
      MAINTENANCE_KEY: `/maintenance/${uniqueName('image-agent')}`,
      MEMBER_ID: uniqueName('image-agent-member'),
    });
    await waitFor(() => healthcheck(name), { timeoutMs: 90_000, message: 'the HEALTHCHECK to pass' });
    expect((await get(port, '/livez')).status).toBe(200);
    expect(await terminate(name)).toBe(0);
  });

  it("orders-ledger: starts with its ledger on the image's volume and answers its probes", async () => {
    const cluster = new Cluster();
    await cluster.connect();
    try {
      const topic = uniqueName('image-orders');
      await cluster.ensureTopics([topic], 2);
      const port = await freePort();
      const name = await run('orders-ledger', {
        HTTP_PORT: String(port),
        KAFKA_BROKERS: inject('kafkaBrokers'),
        ETCD_ENDPOINTS: inject('etcdEndpoints'),
        KAFKA_TOPICS: topic,
        KAFKA_CONSUMER_GROUP: uniqueName('image-orders-group'),
        MAINTENANCE_KEY: `/maintenance/${uniqueName('image-orders')}`,
        MEMBER_ID: uniqueName('image-orders-member'),
      });
      await waitFor(() => healthcheck(name), { timeoutMs: 90_000, message: 'the HEALTHCHECK to pass' });
      await waitFor(async () => (await get(port, '/readyz')).status === 200, {
        timeoutMs: 90_000,
        message: `/readyz 200; logs:\n${await logs(name)}`,
      });
      expect(await terminate(name)).toBe(0);
    } finally {
      await cluster.close();
    }
  });

  it('java-consumer (examples/java-consumer/Containerfile): the JVM runs as uid 1000 on a read-only root and looks for its agent', async () => {
    expect(
      (
        await podmanOk(images, ['image', 'inspect', '--format', '{{.Config.User}}', ref('java-consumer')])
      ).trim(),
    ).toBe('1000:1000');
    // No agent listens there: the app says so and keeps asking, as beside an agent that is not up yet.
    const name = await run('java-consumer', { KMAINT_AGENT_URL: `http://127.0.0.1:${await freePort()}` });
    await waitFor(async () => (await logs(name)).includes('agent poll failed, retrying'), {
      timeoutMs: 60_000,
      message: `the app to poll its agent; logs:\n${await logs(name)}`,
    });
    // Nothing the JVM wanted to write to the read-only root (its perf data is off).
    expect(await logs(name)).not.toMatch(/PerfData|Read-only file system/);
    // 128 + SIGTERM: the JVM ran its shutdown hook and ended on the signal.
    expect(await terminate(name)).toBe(143);
  });
});
