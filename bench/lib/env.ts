import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startEnvironment } from '../../test/env/environment.ts';

const run = promisify(execFile);

/** The real servers a benchmark runs against, started by the same code as the tests' global setup. */
export interface BenchEnv {
  brokers: string[];
  etcdEndpoints: string[];
  kafkaVersion: string;
  /** Folder of the broker's jars, for Kafka's own perf tools. */
  kafkaLibs: string;
  javaVersion: string;
  /** Stops, starts, restarts or kills Kafka or etcd (the environment's control channel). */
  control(server: 'kafka' | 'etcd', action: 'stop' | 'start' | 'restart' | 'kill'): Promise<void>;
  stop(): Promise<void>;
}

async function javaVersion(): Promise<string> {
  const { stderr } = await run('java', ['-version']);
  return stderr.split('\n')[0]?.trim() ?? 'unknown';
}

/** Kafka (KRaft) and etcd only: no control plane, so the cores stay with what is measured. */
export async function startBenchEnv(log: (line: string) => void): Promise<BenchEnv> {
  const env = await startEnvironment({ kube: false, log });
  const { kafkaBrokers, etcdEndpoints, kafkaVersion, kafkaLibs, envControlUrl } = env.provided;
  return {
    brokers: [kafkaBrokers],
    etcdEndpoints: [etcdEndpoints],
    kafkaVersion,
    kafkaLibs,
    javaVersion: await javaVersion(),
    async control(server, action) {
      const res = await fetch(`${envControlUrl}/${server}/${action}`, { method: 'POST' });
      if (!res.ok) throw new Error(`env control ${server} ${action}: ${res.status} ${await res.text()}`);
    },
    stop: () => env.stop(),
  };
}
