// `node bench/operator/index.ts`: the operator at scale against the real apiserver and etcd (test/env).
// Creates pods (Pending: there is no kubelet), then measures create → key on for single windows and for a
// burst of many, convergence after an operator restart, and the operator's RSS, then the same with
// unrelated pods in other namespaces. Sizes: BENCH_WINDOWS, BENCH_PODS, BENCH_UNRELATED_PODS. The operator
// run is `<OPERATOR_ROOT>/operator/src/main.ts` (default: this checkout), so two trees compare in one way.
// Writes bench/results/operator-<label>.json and prints a table row; BENCH_LABEL names the run.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  loadAllYaml,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { startEnvironment } from '../../test/env/environment.ts';
import { freePort } from '../../test/env/ports.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const WINDOWS = Number(process.env['BENCH_WINDOWS'] ?? 1000);
const PODS = Number(process.env['BENCH_PODS'] ?? 5000);
const UNRELATED = Number(process.env['BENCH_UNRELATED_PODS'] ?? 5000);
const NAMESPACES = 10;
const SINGLE_RUNS = 20;
const OPERATOR_ROOT = process.env['OPERATOR_ROOT'] ?? repoRoot;
const LABEL = process.env['BENCH_LABEL'] ?? 'current';
const MW = { group: 'kmaint.io', version: 'v1alpha1', plural: 'maintenancewindows' };

const log = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

async function retry<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      // A namespace's default ServiceAccount appears a moment after the namespace does.
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

const env = await startEnvironment({ kube: true, log });
const kc = new KubeConfig();
kc.loadFromFile(env.provided.kubeconfig as string);
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const etcd = new Etcd3({ hosts: env.provided.etcdEndpoints });

/** When each switch key first turned on, from one watch over the whole prefix. */
const onAt = new Map<string, number>();
const watcher = await etcd.watch().prefix('/maintenance/').create();
watcher.on('put', (kv) => {
  const key = kv.key.toString();
  if (kv.value.toString().includes('"enabled":true') && !onAt.has(key)) onAt.set(key, performance.now());
});
const waitKeys = async (keys: string[]): Promise<void> => {
  while (!keys.every((k) => onAt.has(k))) await new Promise((r) => setTimeout(r, 20));
};

let operator: ChildProcess | null = null;
const startOperator = async (): Promise<void> => {
  const port = await freePort();
  operator = spawn(
    join(repoRoot, 'node_modules', '.bin', 'node'),
    [join(OPERATOR_ROOT, 'operator', 'src', 'main.ts')],
    {
      cwd: OPERATOR_ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        ETCD_ENDPOINTS: env.provided.etcdEndpoints,
        KUBECONFIG: env.provided.kubeconfig,
        LEADER_ELECTION: 'false',
        HTTP_PORT: String(port),
        LOG_LEVEL: 'warn',
        POD_NAME: 'bench-operator',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
};
const stopOperator = async (): Promise<void> => {
  const child = operator;
  if (child === null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
  operator = null;
};
const rssMiB = (): { rss: number; peak: number } => {
  const status = readFileSync(`/proc/${operator?.pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(/(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(field)) ?? '')?.[1]);
  return { rss: Math.round(kb('VmRSS:') / 1024), peak: Math.round(kb('VmHWM:') / 1024) };
};

const api = KubernetesObjectApi.makeApiClient(kc);
for (const doc of loadAllYaml(
  readFileSync(join(repoRoot, 'crds', 'kmaint.io_maintenancewindows.yaml'), 'utf8'),
)) {
  await api.create(doc as KubernetesObject).catch(() => undefined);
}
await retry(() => custom.listClusterCustomObject(MW));

const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bench-w-${i}`);
for (const ns of [...namespaces, 'bench-single'])
  await core.createNamespace({ body: { metadata: { name: ns } } });
const targets = Array.from({ length: WINDOWS }, (_, j) => ({
  ns: namespaces[j % NAMESPACES] as string,
  target: `t${j}`,
}));
const createPods = async (
  count: number,
  where: (i: number) => { ns: string; app: string },
): Promise<void> => {
  await pool(
    Array.from({ length: count }, (_, i) => i),
    20,
    async (i) => {
      const { ns, app } = where(i);
      await retry(() =>
        core.createNamespacedPod({
          namespace: ns,
          body: {
            metadata: { name: `p${i}`, labels: { app } },
            spec: { containers: [{ name: 'consumer', image: 'kmaint/service:bench' }] },
          },
        }),
      );
    },
  );
};
log(`creating ${PODS} pods in ${NAMESPACES} namespaces`);
await createPods(PODS, (i) => {
  const { ns, target } = targets[i % WINDOWS] as { ns: string; target: string };
  return { ns, app: target };
});

await startOperator();
const window = (ns: string, name: string, target: string, selector: boolean) => ({
  apiVersion: 'kmaint.io/v1alpha1',
  kind: 'MaintenanceWindow',
  metadata: { name, namespace: ns },
  spec: {
    target: selector ? { name: target, selector: { matchLabels: { app: target } } } : { name: target },
  },
});

// One window at a time, nothing else happening.
await new Promise((r) => setTimeout(r, 3_000));
const single: number[] = [];
for (let i = 0; i < SINGLE_RUNS; i++) {
  const key = `/maintenance/single-${i}`;
  await custom.createNamespacedCustomObject({
    ...MW,
    namespace: 'bench-single',
    body: window('bench-single', `s${i}`, `single-${i}`, false),
  });
  const applied = performance.now();
  await waitKeys([key]);
  single.push((onAt.get(key) as number) - applied);
}
log(`single window: p50 ${pct(single, 50).toFixed(0)} ms, p99 ${pct(single, 99).toFixed(0)} ms`);

// A burst of windows, as one `kubectl apply` of many.
const appliedAt = new Map<string, number>();
const burstStart = performance.now();
await pool(targets, 20, async ({ ns, target }) => {
  await custom.createNamespacedCustomObject({ ...MW, namespace: ns, body: window(ns, target, target, true) });
  appliedAt.set(`/maintenance/${target}`, performance.now());
});
const burstApplied = performance.now();
const burstKeys = targets.map((t) => `/maintenance/${t.target}`);
await waitKeys(burstKeys);
const burst = burstKeys.map((k) => (onAt.get(k) as number) - (appliedAt.get(k) as number));
const lastAfterApply = Math.max(...burstKeys.map((k) => onAt.get(k) as number)) - burstApplied;
await new Promise((r) => setTimeout(r, 5_000));
const rssBurst = rssMiB();
log(
  `${WINDOWS} windows: apply ${((burstApplied - burstStart) / 1000).toFixed(1)} s, key p50 ${pct(burst, 50).toFixed(0)} ms, p99 ${pct(burst, 99).toFixed(0)} ms, last key ${(lastAfterApply / 1000).toFixed(1)} s after the apply; RSS ${rssBurst.rss} MiB (peak ${rssBurst.peak})`,
);

/** Restarted operator: keys wiped while it was down, time until every one is on again. */
const converge = async (): Promise<{ seconds: number; rss: number; peak: number }> => {
  await stopOperator();
  await etcd.delete().prefix('/maintenance/t').exec();
  for (const k of burstKeys) onAt.delete(k);
  const started = performance.now();
  await startOperator();
  await waitKeys(burstKeys);
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 5_000));
  return { seconds, ...rssMiB() };
};
const restart = await converge();
log(`restart: converged in ${restart.seconds.toFixed(1)} s; RSS ${restart.rss} MiB (peak ${restart.peak})`);

log(`creating ${UNRELATED} unrelated pods`);
const unrelatedNs = Array.from({ length: NAMESPACES }, (_, i) => `bench-u-${i}`);
for (const ns of unrelatedNs) await core.createNamespace({ body: { metadata: { name: ns } } });
await createPods(UNRELATED, (i) => ({ ns: unrelatedNs[i % NAMESPACES] as string, app: `other-${i % 50}` }));
const withUnrelated = await converge();
log(
  `with unrelated pods: converged in ${withUnrelated.seconds.toFixed(1)} s; RSS ${withUnrelated.rss} MiB (peak ${withUnrelated.peak})`,
);

const result = {
  label: LABEL,
  operatorRoot: OPERATOR_ROOT,
  sizes: {
    windows: WINDOWS,
    pods: PODS,
    unrelatedPods: UNRELATED,
    namespaces: NAMESPACES,
    singleRuns: SINGLE_RUNS,
  },
  single: {
    p50Ms: Math.round(pct(single, 50)),
    p99Ms: Math.round(pct(single, 99)),
    samples: single.map(Math.round),
  },
  burst: {
    applySeconds: +((burstApplied - burstStart) / 1000).toFixed(1),
    p50Ms: Math.round(pct(burst, 50)),
    p99Ms: Math.round(pct(burst, 99)),
    lastKeyAfterApplySeconds: +(lastAfterApply / 1000).toFixed(1),
    rssMiB: rssBurst.rss,
    peakRssMiB: rssBurst.peak,
  },
  restart: { convergeSeconds: +restart.seconds.toFixed(1), rssMiB: restart.rss, peakRssMiB: restart.peak },
  withUnrelatedPods: {
    convergeSeconds: +withUnrelated.seconds.toFixed(1),
    rssMiB: withUnrelated.rss,
    peakRssMiB: withUnrelated.peak,
  },
  finishedAt: new Date().toISOString(),
};
writeFileSync(
  join(repoRoot, 'bench', 'results', `operator-${LABEL}.json`),
  `${JSON.stringify(result, null, 2)}\n`,
);
console.log(JSON.stringify(result));
await stopOperator();
await watcher.cancel();
etcd.close();
await env.stop();
