// `npm run stack`: the local stack for trying kmaint by hand (Kafka, etcd on the seed's ports when they
// are free; with `-- --kube` also the Kubernetes control plane and Prometheus), up until Ctrl-C.
// The same code as the tests' global setup, so what works here works there.
import { startEnvironment } from './environment.ts';

const kube = process.argv.includes('--kube');
const env = await startEnvironment({ seedPorts: true, kube, log: (line) => console.log(line) });
const { kafkaBrokers, etcdEndpoints, envControlUrl, envDir } = env.provided;
console.log(`
kmaint local stack is up (Ctrl-C stops it and removes ${envDir}):
  Kafka ${env.provided.kafkaVersion.padEnd(8)} export KAFKA_BROKERS=${kafkaBrokers}
  etcd           export ETCD_ENDPOINTS=${etcdEndpoints}
                 etcdctl --endpoints=${etcdEndpoints} put /maintenance/kafka-service true
  control        curl -X POST ${envControlUrl}/kafka/restart   (also etcd; stop, start, kill)
  logs           ${envDir}/*/*.log
`);
if (env.provided.kubeconfig !== undefined) {
  console.log(`  kubectl        export KUBECONFIG=${env.provided.kubeconfig} PATH=${env.provided.toolsBin}:$PATH
  Prometheus     ${env.provided.prometheusUrl}  (scrape targets: JSON files in ${env.provided.prometheusTargetsDir})
`);
}

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping the stack`);
  await env.stop();
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
