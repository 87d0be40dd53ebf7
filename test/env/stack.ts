// `npm run stack`: kmaint on this machine without Docker, as docker-compose runs it on a laptop: Kafka
// and etcd on the seed's ports when they are free, the seed's topics, and the service on 8083, up until
// Ctrl-C. With `-- --kube` also the Kubernetes control plane, Prometheus, the MaintenanceWindow CRD and
// the operator, so `kubectl apply` of a window drains the service. The same code as the tests' global
// setup, so what works here works there.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { startEnvironment } from './environment.ts';
import { freePort, isPortFree } from './ports.ts';
import { Supervised } from './supervisor.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const kube = process.argv.includes('--kube');
// The seed's topics (KAFKA_TOPICS' default); the broker may not create them on a consumer's request.
const seedTopics = ['test-topic', 'user-events', 'system-logs'];

const env = await startEnvironment({ composePorts: true, kube, log: (line) => console.log(line) });
const { kafkaBrokers, etcdEndpoints, envControlUrl, envDir } = env.provided;
const programs: Supervised[] = [];

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping the stack`);
  // The programs first: the service drains and commits while Kafka and etcd are still there.
  for (const program of programs.reverse()) await program.stop(30_000);
  await env.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

try {
  await createTopics(kafkaBrokers, seedTopics);
  const servicePort = await preferredPort(8083);
  programs.push(
    await startProgram('service', servicePort, {
      KAFKA_BROKERS: kafkaBrokers,
      ETCD_ENDPOINTS: etcdEndpoints,
      KAFKA_TOPICS: seedTopics.join(','),
      MEMBER_ID: 'local',
    }),
  );
  let operatorPort: number | undefined;
  if (env.provided.kubeconfig !== undefined && env.provided.toolsBin !== undefined) {
    await run(join(env.provided.toolsBin, 'kubectl'), [
      `--kubeconfig=${env.provided.kubeconfig}`,
      'apply',
      '-f',
      join(repoRoot, 'crds/kmaint.io_maintenancewindows.yaml'),
    ]);
    operatorPort = await preferredPort(8080);
    programs.push(
      await startProgram('operator', operatorPort, {
        KUBECONFIG: env.provided.kubeconfig,
        ETCD_ENDPOINTS: etcdEndpoints,
      }),
    );
  }

  console.log(`
kmaint local stack is up (Ctrl-C stops it and removes ${envDir}):
  service        curl http://localhost:${servicePort}/health        (the seed's Quick Start, port ${servicePort})
                 curl -X POST http://localhost:${servicePort}/messages/send -H 'Content-Type: application/json' \\
                   -d '{"topic": "test-topic", "message": "Hello from Kafka!", "key": "test-key"}'
  maintenance    etcdctl --endpoints=${etcdEndpoints} put /maintenance/kafka-service true    (false ends it)
  Kafka ${env.provided.kafkaVersion.padEnd(8)} export KAFKA_BROKERS=${kafkaBrokers}
  etcd           export ETCD_ENDPOINTS=${etcdEndpoints}
  control        curl -X POST ${envControlUrl}/kafka/restart   (also etcd; stop, start, kill)
  logs           ${envDir}/*/*.log, ${envDir}/service.log`);
  if (env.provided.kubeconfig !== undefined) {
    console.log(`  kubectl        export KUBECONFIG=${env.provided.kubeconfig} PATH=${env.provided.toolsBin}:$PATH
  a window       kubectl apply -f deploy/examples/window-immediate.yaml && kubectl get mw -w
  operator       http://localhost:${operatorPort}/metrics, log ${envDir}/operator.log
  Prometheus     ${env.provided.prometheusUrl}  (scrape targets: JSON files in ${env.provided.prometheusTargetsDir})`);
  }
} catch (err) {
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
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((topic) => !existing.has(topic));
    if (missing.length > 0) {
      await admin.createTopics({
        topics: missing.map((topic) => ({ topic, numPartitions: 3 })),
        waitForLeaders: true,
      });
    }
  } finally {
    await admin.disconnect();
  }
}

async function preferredPort(port: number): Promise<number> {
  return (await isPortFree(port)) ? port : freePort();
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
    args: [join(repoRoot, name, 'src/main.ts')],
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
