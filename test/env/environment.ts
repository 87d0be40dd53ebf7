import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envConfig, toolsBinDir } from './config.ts';
import { startControlServer } from './control-server.ts';
import { etcdBinary, EtcdServer } from './etcd.ts';
import { EnvError } from './errors.ts';
import { ensureKafkaLibs, KafkaServer } from './kafka.ts';
import { KubeControlPlane } from './kube.ts';
import { ensurePodBridge, podNetwork } from './pod-network.ts';
import { freePort, preferredPort } from './ports.ts';
import { PrometheusServer, whichTool } from './prometheus.ts';

/** The values tests get through vitest's inject() (declared in global-setup.ts). */
export interface ProvidedEnv {
  /** `127.0.0.1:<port>` of the KRaft broker. */
  kafkaBrokers: string;
  kafkaVersion: string;
  /** Folder of the broker's jars (classpath `<kafkaLibs>/*`), e.g. for Kafka's own perf tools. */
  kafkaLibs: string;
  /** `http://127.0.0.1:<port>` of the etcd the service talks to (not the apiserver's). */
  etcdEndpoints: string;
  /** Path of a kubeconfig (admin token) for client-node, kubectl and helm. */
  kubeconfig: string;
  /** `https://127.0.0.1:<port>` of kube-apiserver. */
  kubeServer: string;
  /** Folder with kubectl, helm, kube-apiserver, kube-controller-manager, kube-scheduler and etcd. */
  toolsBin: string;
  /** `http://127.0.0.1:<port>` of Prometheus (1 s scrapes; targets via test/env/prometheus-targets.ts). */
  prometheusUrl: string;
  /** Folder of file_sd target files Prometheus watches. */
  prometheusTargetsDir: string;
  /** Path of promtool. */
  promtool: string;
  /** Base URL of the control channel; use the helpers in test/env/control.ts. */
  envControlUrl: string;
  /** This run's folder of data dirs and server logs. */
  envDir: string;
  /**
   * The same servers as a pod on the real node's bridge reaches them (test/env/pod-network.ts):
   * `<host address>:<port>` of Kafka's pod listener, `http://<host address>:<port>` of etcd, and
   * `https://<host address>:<port>` of kube-apiserver. Absent when the bridge could not be made.
   */
  podKafkaBrokers: string;
  podEtcdEndpoints: string;
  podKubeServer: string;
}

export interface EnvironmentOptions {
  /** Take GoMaint's compose ports (Kafka 9092, etcd 2401/2402) when they are free: for `npm run stack`. */
  composePorts?: boolean;
  /** Start the Kubernetes control plane and Prometheus too (the tests need them; the stack does not). */
  kube?: boolean;
  log?: (line: string) => void;
  /** Told when each step (install, kafka, etcd, kube, prometheus) starts and ends: `npm run stack`'s progress. */
  onStep?: (step: string, finishedInMs?: number) => void;
}

export interface Environment {
  provided: Partial<ProvidedEnv> &
    Pick<
      ProvidedEnv,
      'kafkaBrokers' | 'kafkaVersion' | 'kafkaLibs' | 'etcdEndpoints' | 'envControlUrl' | 'envDir'
    >;
  kafka: KafkaServer;
  etcd: EtcdServer;
  kube: KubeControlPlane | undefined;
  prometheus: PrometheusServer | undefined;
  /** Milliseconds each step took, for the report of cold and warm starts. */
  timings: Record<string, number>;
  stop(): Promise<void>;
}

async function timed<T>(
  timings: Record<string, number>,
  name: string,
  job: () => Promise<T>,
  onStep: (step: string, finishedInMs?: number) => void = () => undefined,
): Promise<T> {
  const started = Date.now();
  onStep(name);
  const result = await job();
  timings[name] = Date.now() - started;
  onStep(name, timings[name]);
  return result;
}

async function preferredOrFree(port: number, wanted: boolean): Promise<number> {
  return wanted ? preferredPort(port) : freePort();
}

/**
 * Runs install.sh (apt packages, Kafka jars, Go tools; all cached) and returns the tools folder it
 * prints. Its progress goes to stderr as it happens: a cold build takes minutes.
 */
function ensureInstalled(): Promise<string> {
  if (envConfig.skipInstall) return Promise.resolve(toolsBinDir());
  const script = fileURLToPath(new URL('./install.sh', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) resolve(stdout.trim().split('\n').pop() ?? toolsBinDir());
      else
        reject(
          new EnvError('ENV_INSTALL', `test/env/install.sh failed with code ${code} (its output is above)`),
        );
    });
  });
}

/**
 * Installs what is missing, then starts every server once, in parallel. If one fails, the ones already
 * up are stopped and the error (with that server's log tail) is thrown; the run's folder is kept.
 */
export async function startEnvironment(options: EnvironmentOptions = {}): Promise<Environment> {
  const log = options.log ?? (() => undefined);
  const preferred = options.composePorts === true;
  const withKube = options.kube !== false;
  const dir = mkdtempSync(join(tmpdir(), 'kmaint-env-'));
  const timings: Record<string, number> = {};
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    stoppers.length = 0;
  };
  const started = Date.now();
  try {
    const toolsBin = await timed(timings, 'install', () => ensureInstalled(), options.onStep);
    // The tests' servers also listen on the pod network, for the real node's pods; without it (not
    // root) everything else still runs, and a test that needs it fails on the missing values.
    const podAddress = withKube
      ? await ensurePodBridge().then(
          () => podNetwork.hostAddress,
          (err: unknown) => {
            log(`kmaint env: no pod network, so no real node's pod reaches the servers: ${String(err)}`);
            return undefined;
          },
        )
      : undefined;
    const jobs = {
      kafka: (async () => {
        const libs = await ensureKafkaLibs();
        const port = await preferredOrFree(9092, preferred);
        const kafka = await timed(
          timings,
          'kafka',
          // The stack (compose ports) waits only for start-up; the tests want a broker that runs fast.
          () => KafkaServer.start({ dir: join(dir, 'kafka'), libs, port, quickStart: preferred, podAddress }),
          options.onStep,
        );
        stoppers.push(() => kafka.stop());
        return { kafka, libs };
      })(),
      etcd: (async () => {
        const clientPort = await preferredOrFree(2401, preferred);
        const peerPort = await preferredOrFree(2402, preferred);
        const binary = etcdBinary(toolsBin);
        const etcd = await timed(
          timings,
          'etcd',
          () => EtcdServer.start({ dir: join(dir, 'etcd'), binary, clientPort, peerPort, podAddress }),
          options.onStep,
        );
        stoppers.push(() => etcd.stop());
        return etcd;
      })(),
      kube: (async () => {
        if (!withKube) return undefined;
        const kube = await timed(
          timings,
          'kube',
          () => KubeControlPlane.start({ dir: join(dir, 'kube'), toolsBin, podAddress }),
          options.onStep,
        );
        stoppers.push(() => kube.stop());
        return kube;
      })(),
      prometheus: (async () => {
        if (!withKube) return undefined;
        const prometheus = await timed(
          timings,
          'prometheus',
          () => PrometheusServer.start({ dir: join(dir, 'prometheus') }),
          options.onStep,
        );
        stoppers.push(() => prometheus.stop());
        return prometheus;
      })(),
    };
    const settled = await Promise.allSettled(Object.values(jobs));
    const failures = settled.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0)
      throw failures.length === 1 ? failures[0] : new AggregateError(failures, 'servers failed to start');
    const { kafka, libs } = await jobs.kafka;
    const etcd = await jobs.etcd;
    const kube = await jobs.kube;
    const prometheus = await jobs.prometheus;

    const control = await startControlServer({ kafka, etcd });
    stoppers.push(() => control.close());
    timings['total'] = Date.now() - started;
    log(
      `kmaint env up in ${timings['total']} ms (${Object.entries(timings)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}); logs in ${dir}`,
    );
    return {
      provided: {
        kafkaBrokers: kafka.brokers,
        kafkaVersion: envConfig.kafkaVersion,
        kafkaLibs: libs,
        etcdEndpoints: etcd.endpoint,
        ...(kube && { kubeconfig: kube.kubeconfig, kubeServer: kube.server, toolsBin }),
        ...(prometheus && {
          prometheusUrl: prometheus.url,
          prometheusTargetsDir: prometheus.targetsDir,
          promtool: whichTool('promtool'),
        }),
        envControlUrl: control.url,
        envDir: dir,
        ...(kafka.podBrokers !== undefined && { podKafkaBrokers: kafka.podBrokers }),
        ...(etcd.podEndpoint !== undefined && { podEtcdEndpoints: etcd.podEndpoint }),
        ...(kube?.podServer !== undefined && { podKubeServer: kube.podServer }),
      },
      kafka,
      etcd,
      kube,
      prometheus,
      timings,
      stop: async () => {
        await stopAll();
        if (!envConfig.keepData) rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stopAll();
    log(`kmaint env failed to start; logs kept in ${dir}`);
    throw err;
  }
}
