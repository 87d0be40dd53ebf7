// `node bench/operator/index.ts`: the operator at scale against the real apiserver and etcd (test/env).
// Creates pods (Pending: there is no kubelet), then measures create → key on for single windows and for a
// burst of many, convergence after an operator restart, and the operator's RSS, then the same with
// unrelated pods in other namespaces. Sizes: BENCH_WINDOWS, BENCH_PODS, BENCH_UNRELATED_PODS. The operator
// run is `<OPERATOR_ROOT>/operator/src/main.ts` (default: this checkout), so two trees compare in one way;
// OPERATOR_RUN=dist compiles it with its build config and runs `operator/dist/main.js`, as the image does.
// Writes bench/results/operator-<label>.json (a record like every benchmark's, so bench/results/README.md
// is regenerated with it); BENCH_LABEL names the run. OPERATOR_NODE_FLAGS go to the operator's Node (e.g.
// `--cpu-prof --cpu-prof-dir=/tmp/prof` or `--heapsnapshot-signal=SIGUSR2` for profiling).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  loadAllYaml,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { parse } from 'yaml';
import { shareConnections } from '../../operator/src/kube/connections.ts';
import { all, parseDockerfile } from '../../test/env/dockerfile.ts';
import { startEnvironment } from '../../test/env/environment.ts';
import { freePort } from '../../test/env/ports.ts';
import { loadAverage, machineFacts } from '../lib/machine.ts';
import { resultsDir, writeRecord, type BenchRecord } from '../lib/report.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const WINDOWS = Number(process.env['BENCH_WINDOWS'] ?? 1000);
const PODS = Number(process.env['BENCH_PODS'] ?? 5000);
const UNRELATED = Number(process.env['BENCH_UNRELATED_PODS'] ?? 5000);
const NAMESPACES = 10;
const SINGLE_RUNS = 20;
const OPERATOR_ROOT = process.env['OPERATOR_ROOT'] ?? repoRoot;
const LABEL = process.env['BENCH_LABEL'] ?? 'current';
/** `source` (type-stripped TypeScript, as in development) or `dist` (tsc output, as in the image). */
const OPERATOR_RUN = process.env['OPERATOR_RUN'] ?? 'source';
if (OPERATOR_RUN !== 'source' && OPERATOR_RUN !== 'dist') throw new Error('OPERATOR_RUN: source or dist');
const OPERATOR_ENTRY =
  OPERATOR_RUN === 'dist' ? join('operator', 'dist', 'main.js') : join('operator', 'src', 'main.ts');
const OPERATOR_FLAGS = (process.env['OPERATOR_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== '');
/** The operator runs with the Node flags its own chart gives it (none for a tree whose chart has none). */
const chartValues = join(OPERATOR_ROOT, 'charts', 'kmaint', 'values.yaml');
const chartOperator = existsSync(chartValues)
  ? ((
      parse(readFileSync(chartValues, 'utf8')) as {
        operator?: { nodeOptions?: string; mallocArenaMax?: number };
      }
    ).operator ?? {})
  : {};
const NODE_OPTIONS = chartOperator.nodeOptions ?? '';
/** And the Node flags its image's ENTRYPOINT puts before the script (those NODE_OPTIONS may not carry). */
const IMAGE_FLAGS = ((): string[] => {
  const dockerfile = join(OPERATOR_ROOT, 'Dockerfile');
  if (!existsSync(dockerfile)) return [];
  const image = parseDockerfile(readFileSync(dockerfile, 'utf8')).stages.find((s) => s.name === 'operator');
  const entry = image === undefined ? undefined : all(image, 'ENTRYPOINT').at(-1);
  return entry === undefined ? [] : (JSON.parse(entry) as string[]).slice(1, -1);
})();
/** glibc's malloc arenas, as the chart sets them (`operator.mallocArenaMax`; unset: glibc's default). */
const MALLOC_ARENA_MAX = chartOperator.mallocArenaMax;
/** Parallel creates, as `kubectl apply` of many objects and a Deployment controller would issue them. */
const CREATE_CONCURRENCY = 20;
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

if (OPERATOR_RUN === 'dist') {
  // Compiled now, so the run never measures a stale dist/.
  await new Promise<void>((resolve, reject) =>
    execFile(
      join(repoRoot, 'node_modules', '.bin', 'tsc'),
      ['-p', join(OPERATOR_ROOT, 'operator', 'tsconfig.build.json')],
      (err) => (err === null ? resolve() : reject(err)),
    ),
  );
}

const benchStarted = performance.now();
const startedAt = new Date().toISOString();
const env = await startEnvironment({ kube: true, log });
// One connection pool, as kubectl keeps: client-node alone opens a TLS connection per request, and the
// secure contexts it leaves behind made the bench's own GC pauses (up to 0.9 s) part of the latencies.
const kc = shareConnections(new KubeConfig());
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
let operatorPort = 0;
const startOperator = async (): Promise<void> => {
  const port = await freePort();
  operatorPort = port;
  operator = spawn(
    join(repoRoot, 'node_modules', '.bin', 'node'),
    [...IMAGE_FLAGS, ...OPERATOR_FLAGS, join(OPERATOR_ROOT, OPERATOR_ENTRY)],
    {
      cwd: OPERATOR_ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        NODE_OPTIONS,
        ...(MALLOC_ARENA_MAX !== undefined && { MALLOC_ARENA_MAX: String(MALLOC_ARENA_MAX) }),
        ...(process.env['RECONCILE_WORKERS'] !== undefined && {
          RECONCILE_WORKERS: process.env['RECONCILE_WORKERS'],
        }),
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
/** CPU seconds the operator and the whole machine have used so far (clock ticks are 1/100 s). */
const cpuSeconds = (): { operator: number; machine: number } => {
  const fields = readFileSync(`/proc/${operator?.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1, 8).map(Number);
  return {
    operator: (Number(fields[11]) + Number(fields[12])) / 100,
    machine: (cpu.reduce((a, b) => a + b, 0) - (cpu[3] ?? 0) - (cpu[4] ?? 0)) / 100,
  };
};
/** The operator's queue and reconcile histograms (sum and count by kind), for where a burst's time goes. */
const queueMetrics = async (): Promise<Record<string, number>> => {
  const text = await (await fetch(`http://127.0.0.1:${operatorPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(
    /^kmaint_operator_(queue_wait_seconds|reconcile_duration_seconds)_(sum|count)\{kind="(\w+)"\} (\S+)/gm,
  ))
    out[`${m[1]}_${m[2]}{${m[3]}}`] = +Number(m[4]).toFixed(3);
  return out;
};
/** Where the memory is: the operator's own Node metrics (V8 heap used and total, and off-heap). */
const heapMiB = async (): Promise<{ heapUsed: number; heapTotal: number; external: number }> => {
  const text = await (await fetch(`http://127.0.0.1:${operatorPort}/metrics`)).text();
  const metric = (name: string): number =>
    Math.round(Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1]) / 2 ** 20);
  return {
    heapUsed: metric('nodejs_heap_size_used_bytes'),
    heapTotal: metric('nodejs_heap_size_total_bytes'),
    external: metric('nodejs_external_memory_bytes'),
  };
};
/** RSS now and its peak, and what it is made of: anonymous memory (V8's heap, code, malloc) and mapped files (mostly Node's own binary). */
const rssMiB = (): { rss: number; peak: number; anon: number; file: number } => {
  const kb = (text: string, field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1]);
  const status = readFileSync(`/proc/${operator?.pid}/status`, 'utf8');
  const rollup = readFileSync(`/proc/${operator?.pid}/smaps_rollup`, 'utf8');
  const mib = (x: number): number => Math.round(x / 1024);
  return {
    rss: mib(kb(status, 'VmRSS')),
    peak: mib(kb(status, 'VmHWM')),
    anon: mib(kb(rollup, 'Anonymous')),
    file: mib(kb(rollup, 'Rss') - kb(rollup, 'Anonymous')),
  };
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
  // Not measured: as fast as the apiserver takes them, so a full-size run stays within minutes.
  await pool(
    Array.from({ length: count }, (_, i) => i),
    50,
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

const rssIdle = rssMiB();
// A burst of windows, as one `kubectl apply` of many.
const appliedAt = new Map<string, number>();
const cpuBefore = cpuSeconds();
// The bench is the observer: a key seen late because its own loop was busy is its lag, not the operator's.
const benchLoop = monitorEventLoopDelay({ resolution: 10 });
benchLoop.enable();
const burstStart = performance.now();
await pool(targets, CREATE_CONCURRENCY, async ({ ns, target }) => {
  await custom.createNamespacedCustomObject({ ...MW, namespace: ns, body: window(ns, target, target, true) });
  appliedAt.set(`/maintenance/${target}`, performance.now());
});
const burstApplied = performance.now();
const burstKeys = targets.map((t) => `/maintenance/${t.target}`);
await waitKeys(burstKeys);
benchLoop.disable();
const benchLoopDelayMs = {
  p99: Math.round(benchLoop.percentile(99) / 1e6),
  max: Math.round(benchLoop.max / 1e6),
};
const burst = burstKeys.map((k) => (onAt.get(k) as number) - (appliedAt.get(k) as number));
const lastAfterApply = Math.max(...burstKeys.map((k) => onAt.get(k) as number)) - burstApplied;
const cpuAfter = cpuSeconds();
const burstCpu = {
  wallSeconds: +((performance.now() - burstStart) / 1000).toFixed(1),
  operatorCpuSeconds: +(cpuAfter.operator - cpuBefore.operator).toFixed(1),
  machineCpuSeconds: +(cpuAfter.machine - cpuBefore.machine).toFixed(1),
};
const burstQueue = await queueMetrics();
await new Promise((r) => setTimeout(r, 5_000));
const rssBurst = { ...rssMiB(), ...(await heapMiB()) };
if (OPERATOR_FLAGS.some((f) => f.startsWith('--heapsnapshot-signal'))) {
  // Profiling: a heap snapshot of the operator right after the burst (written into OPERATOR_ROOT).
  const before = new Set(readdirSync(OPERATOR_ROOT));
  (operator as ChildProcess | null)?.kill('SIGUSR2');
  let size = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 2_000));
    const file = readdirSync(OPERATOR_ROOT).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    const now = file === undefined ? -1 : statSync(join(OPERATOR_ROOT, file)).size;
    if (now > 0 && now === size) break;
    size = now;
  }
  log('heap snapshot written');
}
log(
  `${WINDOWS} windows: apply ${((burstApplied - burstStart) / 1000).toFixed(1)} s, key p50 ${pct(burst, 50).toFixed(0)} ms, p99 ${pct(burst, 99).toFixed(0)} ms, last key ${(lastAfterApply / 1000).toFixed(1)} s after the apply (bench loop delay p99 ${benchLoopDelayMs.p99} ms); RSS ${rssBurst.rss} MiB (peak ${rssBurst.peak})`,
);

/** Restarted operator: keys wiped while it was down, time until every one is on again. */
const converge = async (): Promise<{
  seconds: number;
  rss: number;
  peak: number;
  anon: number;
  file: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}> => {
  await stopOperator();
  await etcd.delete().prefix('/maintenance/t').exec();
  for (const k of burstKeys) onAt.delete(k);
  const started = performance.now();
  await startOperator();
  await waitKeys(burstKeys);
  const seconds = (performance.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, 5_000));
  return { seconds, ...rssMiB(), ...(await heapMiB()) };
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

const javaVersion = await new Promise<string>((resolve) =>
  execFile('java', ['-version'], (_err, _out, stderr) => resolve(stderr.split('\n')[0]?.trim() || 'unknown')),
);
const machine = machineFacts(env.provided.kafkaVersion, javaVersion);
const params = {
  windows: WINDOWS,
  pods: PODS,
  unrelatedPods: UNRELATED,
  namespaces: NAMESPACES,
  singleRuns: SINGLE_RUNS,
  createConcurrency: CREATE_CONCURRENCY,
  operatorRoot: OPERATOR_ROOT,
  operatorRun: OPERATOR_RUN,
  operatorNodeOptions: NODE_OPTIONS,
  operatorMallocArenaMax: MALLOC_ARENA_MAX ?? 'default',
  operatorImageFlags: IMAGE_FLAGS,
  reconcileWorkers: process.env['RECONCILE_WORKERS'] ?? 'default',
  operatorNodeFlags: OPERATOR_FLAGS,
};
const results = {
  single: {
    p50Ms: Math.round(pct(single, 50)),
    p99Ms: Math.round(pct(single, 99)),
    /** The operator's RSS after the single windows, before the burst. */
    rssMiB: rssIdle.rss,
    rssPartsMiB: { anonymous: rssIdle.anon, files: rssIdle.file },
    samples: single.map(Math.round),
  },
  burst: {
    applySeconds: +((burstApplied - burstStart) / 1000).toFixed(1),
    p50Ms: Math.round(pct(burst, 50)),
    p99Ms: Math.round(pct(burst, 99)),
    lastKeyAfterApplySeconds: +(lastAfterApply / 1000).toFixed(1),
    rssMiB: rssBurst.rss,
    peakRssMiB: rssBurst.peak,
    rssPartsMiB: { anonymous: rssBurst.anon, files: rssBurst.file },
    heapMiB: { used: rssBurst.heapUsed, total: rssBurst.heapTotal, external: rssBurst.external },
    /** From the first create to the last key on. */
    cpu: burstCpu,
    operatorQueue: burstQueue,
    /** How late the bench's own event loop ran during the burst, which delays when it sees a key. */
    benchLoopDelayMs,
    samples: burst.map(Math.round),
  },
  restart: {
    convergeSeconds: +restart.seconds.toFixed(1),
    rssMiB: restart.rss,
    peakRssMiB: restart.peak,
    rssPartsMiB: { anonymous: restart.anon, files: restart.file },
    heapMiB: { used: restart.heapUsed, total: restart.heapTotal, external: restart.external },
  },
  withUnrelatedPods: {
    convergeSeconds: +withUnrelated.seconds.toFixed(1),
    rssMiB: withUnrelated.rss,
    peakRssMiB: withUnrelated.peak,
    rssPartsMiB: { anonymous: withUnrelated.anon, files: withUnrelated.file },
    heapMiB: {
      used: withUnrelated.heapUsed,
      total: withUnrelated.heapTotal,
      external: withUnrelated.external,
    },
  },
};
type Results = typeof results;

const ms = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : `${x} ms`);
/** The rows of the table, one column per run. */
const rows = (r: Results): [string, string][] => [
  ['single window: create → key p50 / p99', `${ms(r.single.p50Ms)} / ${ms(r.single.p99Ms)}`],
  [`${WINDOWS} windows: create → key p50 / p99`, `${ms(r.burst.p50Ms)} / ${ms(r.burst.p99Ms)}`],
  [
    'burst: creates took; last key after the last create',
    `${r.burst.applySeconds} s; ${r.burst.lastKeyAfterApplySeconds} s`,
  ],
  ['burst: RSS settled (peak)', `${r.burst.rssMiB} MiB (${r.burst.peakRssMiB})`],
  [
    'burst: V8 heap used / total; off-heap',
    `${r.burst.heapMiB.used} / ${r.burst.heapMiB.total} MiB; ${r.burst.heapMiB.external} MiB`,
  ],
  ['restart: all keys on again', `${r.restart.convergeSeconds} s`],
  ['restart: RSS settled (peak)', `${r.restart.rssMiB} MiB (${r.restart.peakRssMiB})`],
  [`+ ${UNRELATED} unrelated pods, restart: all keys on again`, `${r.withUnrelatedPods.convergeSeconds} s`],
  [
    `+ ${UNRELATED} unrelated pods, restart: RSS settled (peak)`,
    `${r.withUnrelatedPods.rssMiB} MiB (${r.withUnrelatedPods.peakRssMiB})`,
  ],
];
const goals = ['≤ 200 ms p99', '≤ 1 s p99', '', '< 200 MB', '', '< 30 s', '< 200 MB', '< 30 s', '< 200 MB'];
/** This run's table; the run labelled "after" sets the "before" run's figures beside its own. */
const baseline =
  LABEL === 'after' && existsSync(`${resultsDir}/operator-before.json`)
    ? (JSON.parse(readFileSync(`${resultsDir}/operator-before.json`, 'utf8')) as BenchRecord).results
    : null;
const table =
  baseline === null
    ? [
        `| ${LABEL} | figure | goal |`,
        '| --- | --- | --- |',
        ...rows(results).map(([what, v], i) => `| ${what} | ${v} | ${goals[i]} |`),
      ]
    : [
        '| | before | after | goal |',
        '| --- | --- | --- | --- |',
        ...rows(results).map(
          ([what, v], i) => `| ${what} | ${rows(baseline as Results)[i]?.[1]} | ${v} | ${goals[i]} |`,
        ),
      ];
const file = writeRecord({
  name: `operator-${LABEL}`,
  title: `Operator at scale, ${LABEL}`,
  startedAt,
  durationMs: Math.round(performance.now() - benchStarted),
  machine,
  load: { start: machine.loadAvg, end: loadAverage() },
  params,
  results,
  summary: [
    `${WINDOWS} MaintenanceWindows (each selecting its own ${PODS / WINDOWS} of ${PODS} Pending pods in ${NAMESPACES} namespaces) created ${CREATE_CONCURRENCY} at a time through the real apiserver; create → switch key on in etcd; operator RSS 5 s after each phase (peak since its start); then the operator restarted with every key deleted, and once more after ${UNRELATED} unrelated pods in ${NAMESPACES} other namespaces. The operator runs from \`${OPERATOR_ENTRY}\` with the NODE_OPTIONS of its chart (\`${NODE_OPTIONS || 'none'}\`). Before and after are two runs one after the other on the same machine.`,
    '',
    ...table,
  ],
});
log(`wrote ${file}`);

await stopOperator();
await watcher.cancel();
etcd.close();
await env.stop();
