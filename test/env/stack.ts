// `npm run stack`: kmaint on this machine without Docker, as docker-compose runs it on a laptop: Kafka
// and etcd on the compose ports when they are free, the example topics, and the service on 8083, up
// until Ctrl-C. It says which step it is on and for how long, and ends with one summary of what to try. With `-- --kube` also the Kubernetes control plane, Prometheus, the MaintenanceWindow CRD and
// the operator, so `kubectl apply` of a window drains the service. The same code as the tests' global
// setup, so what works here works there.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startEnvironment } from './environment.ts';
import { createTopicsWithLeaders } from './kafka.ts';
import { preferredPort } from './ports.ts';
import { Supervised } from './supervisor.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const kube = process.argv.includes('--kube');
// The example topics (KAFKA_TOPICS' default); the broker may not create them on a consumer's request.
const topics = ['test-topic', 'user-events', 'system-logs'];

const began = Date.now();
const elapsed = () => `${((Date.now() - began) / 1000).toFixed(1).padStart(5)} s`;
const say = (line: string) => console.log(`[${elapsed()}] ${line}`);
const what: Record<string, string> = {
  install: 'checking what is installed (the first run fetches Kafka and builds the Go tools: minutes)',
  kafka: 'starting Kafka (KRaft, on the JVM)',
  etcd: 'starting etcd',
  kube: 'starting kube-apiserver, controller-manager and scheduler',
  prometheus: 'starting Prometheus',
};
// While a step runs, say every 10 s what is still being waited for, so a slow first run never looks hung.
const running = new Map<string, number>();
const ticker = setInterval(() => {
  if (running.size > 0)
    say(
      `… still ${[...running].map(([step, at]) => `${step} (${Math.round((Date.now() - at) / 1000)} s)`).join(', ')}`,
    );
}, 10_000).unref();
const step = async <T>(name: string, description: string, job: () => Promise<T>): Promise<T> => {
  what[name] = description;
  const started = Date.now();
  onStep(name);
  const result = await job();
  onStep(name, Date.now() - started);
  return result;
};
function onStep(name: string, finishedInMs?: number): void {
  if (finishedInMs === undefined) {
    running.set(name, Date.now());
    say(what[name] ?? name);
    return;
  }
  running.delete(name);
  say(`✓ ${name} (${(finishedInMs / 1000).toFixed(1)} s)`);
}

say(`kmaint local stack${kube ? ' with Kubernetes' : ''}: starting`);
const env = await startEnvironment({ composePorts: true, kube, onStep });
const { kafkaBrokers, etcdEndpoints, envControlUrl, envDir } = env.provided;
const programs: Supervised[] = [];

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  console.log(`${signal}: stopping the stack`);
  // The programs first: the service drains and commits while Kafka and etcd are still there.
  for (const program of programs.reverse()) await program.stop(30_000);
  await env.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  await step('topics', `creating the topics ${topics.join(', ')}`, () => createTopics(kafkaBrokers, topics));
  const servicePort = await preferredPort(8083);
  programs.push(
    await step('service', `starting the example consumer on :${servicePort}`, () =>
      startProgram('service', servicePort, {
        KAFKA_BROKERS: kafkaBrokers,
        ETCD_ENDPOINTS: etcdEndpoints,
        KAFKA_TOPICS: topics.join(','),
        MEMBER_ID: 'local',
      }),
    ),
  );
  let operatorPort: number | undefined;
  if (env.provided.kubeconfig !== undefined && env.provided.toolsBin !== undefined) {
    const kubectl = join(env.provided.toolsBin, 'kubectl');
    const kubeconfig = `--kubeconfig=${env.provided.kubeconfig}`;
    await step('crd', 'applying the MaintenanceWindow CRD', async () => {
      await run(kubectl, [kubeconfig, 'apply', '--server-side', '-f', join(repoRoot, 'crds')]);
      await run(kubectl, [
        kubeconfig,
        'wait',
        '--for=condition=Established',
        'crd/maintenancewindows.kmaint.io',
      ]);
    });
    const port = await preferredPort(8080);
    operatorPort = port;
    programs.push(
      await step('operator', `starting the operator on :${port}`, () =>
        startProgram('operator', port, {
          KUBECONFIG: env.provided.kubeconfig,
          ETCD_ENDPOINTS: etcdEndpoints,
        }),
      ),
    );
  }

  clearInterval(ticker);
  const lines = [
    `kmaint local stack is up in ${elapsed().trim()} (Ctrl-C stops it and removes ${envDir}):`,
    '',
    `  service        curl http://localhost:${servicePort}/health`,
    `                 curl -X POST http://localhost:${servicePort}/messages/send -H 'Content-Type: application/json' \\`,
    `                   -d '{"topic": "test-topic", "message": "Hello from Kafka!", "key": "test-key"}'`,
    `                 watch -n1 "curl -s localhost:${servicePort}/messages/stats | jq .kafka"`,
    `  maintenance    etcdctl --endpoints=${etcdEndpoints} put /maintenance/kafka-service true    (false ends it)`,
    `                 curl -s http://localhost:${servicePort}/health | jq .maintenance`,
    `  Kafka ${env.provided.kafkaVersion.padEnd(8)} export KAFKA_BROKERS=${kafkaBrokers}`,
    `  etcd           export ETCD_ENDPOINTS=${etcdEndpoints}`,
    `  outages        curl -X POST ${envControlUrl}/kafka/restart   (also etcd; stop, start, kill)`,
    `  logs           ${envDir}/*/*.log, ${envDir}/service.log`,
  ];
  if (env.provided.kubeconfig !== undefined) {
    lines.push(
      `  kubectl        export KUBECONFIG=${env.provided.kubeconfig} PATH=${env.provided.toolsBin}:$PATH`,
      `  a window       kubectl apply -f deploy/examples/window-immediate.yaml && kubectl get mw -w`,
      `  status page    http://localhost:${operatorPort}/status`,
      `  operator       http://localhost:${operatorPort}/metrics, log ${envDir}/operator.log`,
      `  Prometheus     ${env.provided.prometheusUrl}  (scrape targets: JSON files in ${env.provided.prometheusTargetsDir})`,
    );
  } else {
    lines.push('  with Kubernetes, the operator and Prometheus: npm run stack -- --kube');
  }
  console.log(`\n${lines.join('\n')}\n`);
} catch (err) {
  clearInterval(ticker);
  console.error(`the stack did not come up: ${(err as Error).message}`);
  await shutdown('error');
}

async function createTopics(brokers: string, topics: string[]): Promise<void> {
  const admin = new Kafka({
    clientId: 'kmaint-stack',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await createTopicsWithLeaders(
      admin,
      topics.map((topic) => ({ topic, numPartitions: 3 })),
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * Runs one of kmaint's programs from source on Node 24 (this script's own node). The service counts as
 * up once it consumes (/readyz), so the Quick Start printed next works at once; the operator once it lives.
 */
async function startProgram(
  name: 'service' | 'operator',
  port: number,
  extra: NodeJS.ProcessEnv,
): Promise<Supervised> {
  const probe = name === 'service' ? 'readyz' : 'livez';
  const program = new Supervised({
    name,
    command: process.execPath,
    args: ['--conditions=@kmaint/source', join(repoRoot, name, 'src/main.ts')],
    env: { ...process.env, HTTP_PORT: String(port), ...extra },
    cwd: repoRoot,
    logFile: join(envDir, `${name}.log`),
    ready: async () => (await fetch(`http://127.0.0.1:${port}/${probe}`)).ok,
    readyTimeoutMs: 120_000,
    stopTimeoutMs: 30_000,
  });
  await program.start();
  return program;
}
