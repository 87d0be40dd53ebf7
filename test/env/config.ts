import { homedir } from 'node:os';
import { join } from 'node:path';

// The one place test/env reads the environment: versions and the cache folder, each overridable so the
// suite can run against another Kafka (GoMaint's example ran 3.x) or a shared cache.
export const envConfig = {
  cacheDir: process.env['KMAINT_CACHE'] ?? join(homedir(), '.cache', 'kmaint'),
  kafkaVersion: process.env['KMAINT_KAFKA_VERSION'] ?? '4.1.1',
  k8sVersion: process.env['K8S_VERSION'] ?? '1.34.4',
  etcdVersion: process.env['ETCD_VERSION'] ?? '3.6.4',
  helmVersion: process.env['HELM_VERSION'] ?? '3.19.5',
  /** Keep the per-run data and logs after teardown, for a post-mortem. */
  keepData: process.env['KMAINT_KEEP_ENV'] === '1',
  /**
   * Start the Kubernetes control plane and Prometheus (KMAINT_ENV_KUBE=0: Kafka and etcd only, for a run
   * of files that need nothing else, such as the engine suite against the other Kafka line).
   */
  kube: process.env['KMAINT_ENV_KUBE'] !== '0',
  /**
   * The Kafka client the engine integration suite runs the engine on (KMAINT_KAFKA_CLIENT=platformatic:
   * `npm run test:platformatic`); one suite for every client.
   */
  kafkaClient: process.env['KMAINT_KAFKA_CLIENT'] ?? 'kafkajs',
  /**
   * The consumer group protocol the engine suite joins with (KMAINT_KAFKA_GROUP_PROTOCOL=consumer: KIP-848,
   * platformatic on Kafka 4.x, `npm run test:kip-848`); classic by default, the only one of Kafka 3.9.
   */
  kafkaGroupProtocol: process.env['KMAINT_KAFKA_GROUP_PROTOCOL'] ?? 'classic',
  /** Skip the apt/maven/go install steps (they are cached anyway; this is for offline runs). */
  skipInstall: process.env['KMAINT_SKIP_INSTALL'] === '1',
};

export function toolsBinDir(): string {
  const { cacheDir, k8sVersion, etcdVersion, helmVersion } = envConfig;
  return join(cacheDir, `bin-k8s${k8sVersion}-etcd${etcdVersion}-helm${helmVersion}`);
}
