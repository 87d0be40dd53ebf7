import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { encodeMemberReport, memberKey, type MemberReport, type MemberState } from '@kmaint/common';
import { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { inject } from 'vitest';
import { waitFor } from '../../../test/env/helpers.ts';
import { applyYamlFile, kubeConfig, kubectl } from '../../../test/env/tools.ts';
import { loadConfig } from '../../src/config.ts';
import { CONDITION } from '../../src/core/conditions.ts';
import { MW } from '../../src/kube/resources.ts';
import { startOperator, type OperatorHandle } from '../../src/main.ts';

export const repoRoot = join(import.meta.dirname, '..', '..', '..');
export const crdPath = join(repoRoot, 'crds', 'kmaint.io_maintenancewindows.yaml');

export interface Kube {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

export function kube(): Kube {
  const kc = kubeConfig();
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi) };
}

/** A kubeconfig (written into `dir`) that authenticates as the service account, with a token from the TokenRequest API. */
export async function serviceAccountKubeconfig(
  { kc: admin }: Kube,
  namespace: string,
  account: string,
  dir: string,
): Promise<string> {
  const { stdout } = await kubectl(['create', 'token', account, '-n', namespace, '--duration=1h']);
  const cluster = admin.getCurrentCluster();
  if (cluster === null) throw new Error('admin kubeconfig has no cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: account, token: stdout.trim() }],
    contexts: [{ name: account, cluster: cluster.name, user: account }],
    currentContext: account,
  });
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, kc.exportConfig());
  return path;
}

/** Applies the CRD from crds/ (through loadAllYaml, keeping its CEL rules) and waits until it is served. */
export async function installCrd({ kc, custom }: Kube): Promise<void> {
  await applyYamlFile(crdPath, kc);
  await waitFor(
    () => custom.listClusterCustomObject({ group: MW.group, version: MW.version, plural: MW.plural }),
    {
      message: 'the MaintenanceWindow CRD to be served',
      timeoutMs: 60_000,
    },
  );
}

const created: string[] = [];

/** Creates a namespace for one test; removeNamespaces() takes them all away again. */
export async function createNamespace({ core }: Kube, name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
  created.push(name);
}

export async function removeNamespaces(k: Kube): Promise<void> {
  for (const namespace of created.splice(0)) await removeNamespace(k, namespace);
}

export const window = (namespace: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: MW.apiVersion,
  kind: MW.kind,
  metadata: { name, namespace },
  spec,
});

export async function createWindow(k: Kube, namespace: string, name: string, spec: Record<string, unknown>) {
  return k.custom.createNamespacedCustomObject({
    group: MW.group,
    version: MW.version,
    plural: MW.plural,
    namespace,
    body: window(namespace, name, spec),
  });
}

export interface WindowStatusView {
  conditions?: { type: string; status: string; reason: string; message: string }[];
  pods?: { selected: number; notReady: number; drained: number; summary: string; draining?: string[] };
  [k: string]: unknown;
}

export async function getWindow(k: Kube, namespace: string, name: string) {
  return (await k.custom.getNamespacedCustomObject({
    group: MW.group,
    version: MW.version,
    plural: MW.plural,
    namespace,
    name,
  })) as { metadata: { finalizers?: string[]; generation: number }; status?: WindowStatusView };
}

export function condition(status: WindowStatusView | undefined, type: string) {
  return status?.conditions?.find((c) => c.type === type);
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export async function patchWindowSpec(
  k: Kube,
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
) {
  await k.custom.patchNamespacedCustomObject(
    { group: MW.group, version: MW.version, plural: MW.plural, namespace, name, body: { spec } },
    mergePatch,
  );
}

export async function deleteWindow(k: Kube, namespace: string, name: string): Promise<void> {
  await k.custom.deleteNamespacedCustomObject({
    group: MW.group,
    version: MW.version,
    plural: MW.plural,
    namespace,
    name,
  });
}

export async function windowGone(k: Kube, namespace: string, name: string): Promise<boolean> {
  try {
    await getWindow(k, namespace, name);
    return false;
  } catch (err) {
    return (err as { code?: number }).code === 404;
  }
}

/**
 * Removes a test's namespace with its windows. Finalizers are dropped first so nothing waits for an
 * operator that has stopped, and so no window outlives the test for another operator (the e2e chart's,
 * watching all namespaces) to pick up.
 */
export async function removeNamespace(k: Kube, namespace: string): Promise<void> {
  const list = (await k.custom.listNamespacedCustomObject({
    group: MW.group,
    version: MW.version,
    plural: MW.plural,
    namespace,
  })) as { items: { metadata: { name: string } }[] };
  for (const item of list.items) {
    await k.custom
      .patchNamespacedCustomObject(
        {
          group: MW.group,
          version: MW.version,
          plural: MW.plural,
          namespace,
          name: item.metadata.name,
          body: { metadata: { finalizers: null } },
        },
        mergePatch,
      )
      .catch(() => undefined);
  }
  await k.core.deleteNamespace({ name: namespace });
}

export function etcdClient(): Etcd3 {
  return new Etcd3({ hosts: inject('etcdEndpoints') });
}

/** The parsed switch value, or null for a missing key. */
export async function readSwitch(etcd: Etcd3, key: string): Promise<Record<string, unknown> | null> {
  const raw = await etcd.get(key).string();
  return raw === null ? null : (JSON.parse(raw) as Record<string, unknown>);
}

/** Every value written to a key from now on, as the consumers' watch sees it. */
export async function recordKey(
  etcd: Etcd3,
  key: string,
): Promise<{ values: string[]; stop(): Promise<void> }> {
  const values: string[] = [];
  const watcher = await etcd.watch().key(key).create();
  watcher.on('put', (kv) => values.push(kv.value.toString()));
  return { values, stop: () => watcher.cancel() };
}

/** Writes a member report the way the service does: JSON under <key>/members/<id>, on a lease. */
export async function reportMember(
  etcd: Etcd3,
  key: string,
  pod: string,
  state: MemberState,
  lease = etcd.lease(60),
): Promise<ReturnType<Etcd3['lease']>> {
  const now = new Date().toISOString();
  const report: MemberReport = {
    id: pod,
    pod,
    state,
    inFlight: 0,
    drainedAt: state === 'maintenance' ? now : null,
    lastTransition: now,
    lastError: null,
    window: null,
  };
  await lease.put(memberKey(key, pod)).value(encodeMemberReport(report));
  return lease;
}

const strategicPatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

export async function createPod(k: Kube, namespace: string, name: string, labels: Record<string, string>) {
  await k.core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, namespace, labels },
      spec: { containers: [{ name: 'consumer', image: 'kmaint/service:test' }] },
    },
  });
}

/** Sets the pod's Ready condition as a kubelet would, through the status subresource. */
export async function setPodReady(k: Kube, namespace: string, name: string, ready: boolean): Promise<void> {
  await k.core.patchNamespacedPodStatus(
    {
      namespace,
      name,
      body: {
        status: {
          conditions: [{ type: 'Ready', status: ready ? 'True' : 'False', lastTransitionTime: new Date() }],
        },
      },
    },
    strategicPatch,
  );
}

/** Log lines of an in-process operator, kept for the failure message instead of flooding the output. */
export function memoryLog(): { lines: string[]; logger: pino.Logger } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().trim().split('\n'));
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, sink) };
}

/** An operator in this process, watching one namespace, without leader election. */
export async function startLocalOperator(
  namespace: string,
  extraEnv: Record<string, string> = {},
): Promise<OperatorHandle & { lines: string[] }> {
  const config = loadConfig({
    ETCD_ENDPOINTS: inject('etcdEndpoints'),
    KUBECONFIG: inject('kubeconfig'),
    WATCH_NAMESPACE: namespace,
    LEADER_ELECTION: 'false',
    HTTP_PORT: '0',
    POD_NAME: `local-${namespace}`,
    ...extraEnv,
  });
  const { lines, logger } = memoryLog();
  const handle = await startOperator(config, logger);
  return Object.assign(handle, { lines });
}

export function httpPort(handle: OperatorHandle): number {
  const address = handle.server.address();
  if (address === null || typeof address === 'string') throw new Error('operator is not listening');
  return address.port;
}

export interface OperatorProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<number | null>;
}

/** The operator as a real child process (`node operator/src/main.ts`), for leader election and restarts. */
export function spawnOperator(env: Record<string, string>): OperatorProcess {
  const child = spawn(
    join(repoRoot, 'node_modules', '.bin', 'node'),
    [join(repoRoot, 'operator', 'src', 'main.ts')],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        ETCD_ENDPOINTS: inject('etcdEndpoints'),
        KUBECONFIG: inject('kubeconfig'),
        HTTP_PORT: '0',
        LOG_LEVEL: 'debug',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

/** The JSON log lines of an operator process that carry `msg` (and match `fields`, if given). */
export function logged(output: readonly string[], msg: string, fields: Record<string, unknown> = {}): number {
  let n = 0;
  for (const line of output) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry['msg'] === msg && Object.entries(fields).every(([k, v]) => entry[k] === v)) n++;
    } catch {
      // a non-JSON line (a Node warning): not a log entry
    }
  }
  return n;
}

/**
 * A TCP relay in front of the real apiserver that a test can cut (every connection dropped, new ones
 * refused) and restore: an apiserver outage as the operator sees it, while the test keeps its direct line.
 */
export interface ApiserverLink {
  kubeconfig: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function apiserverLink(k: Kube): Promise<ApiserverLink> {
  const upstream = new URL(inject('kubeServer'));
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
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
    client.on('close', () => remote.destroy());
    remote.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const cluster = k.kc.getCurrentCluster();
  const user = k.kc.getCurrentUser();
  if (cluster === null || user === null) throw new Error('admin kubeconfig has no current cluster or user');
  const kc = new (k.kc.constructor as new () => KubeConfig)();
  kc.loadFromOptions({
    clusters: [{ ...cluster, server: `https://127.0.0.1:${port}` }],
    users: [user],
    contexts: [{ name: 'relay', cluster: cluster.name, user: user.name }],
    currentContext: 'relay',
  });
  const path = join(mkdtempSync(join(tmpdir(), 'kmaint-relay-')), 'kubeconfig');
  writeFileSync(path, kc.exportConfig());
  return {
    kubeconfig: path,
    cut: () => {
      open = false;
      for (const s of sockets) s.destroy();
    },
    restore: () => {
      open = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export { CONDITION };
