import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envConfig } from './config.ts';
import { startControlServer } from './control-server.ts';
import { EtcdServer } from './etcd.ts';
import { ensureKafkaLibs, KafkaServer } from './kafka.ts';
import { freePort, isPortFree } from './ports.ts';

/** The values tests get through vitest's inject() (declared in global-setup.ts). */
export interface ProvidedEnv {
  /** `127.0.0.1:<port>` of the KRaft broker. */
  kafkaBrokers: string;
  kafkaVersion: string;
  /** Folder of the broker's jars (classpath `<kafkaLibs>/*`), e.g. for Kafka's own perf tools. */
  kafkaLibs: string;
  /** `http://127.0.0.1:<port>` of the etcd the service talks to (not the apiserver's). */
  etcdEndpoints: string;
  /** Base URL of the control channel; use the helpers in test/env/control.ts. */
  envControlUrl: string;
  /** This run's folder of data dirs and server logs. */
  envDir: string;
}

export interface EnvironmentOptions {
  /** Take the seed's ports (Kafka 9092, etcd 2401/2402) when they are free: for `npm run stack`. */
  seedPorts?: boolean;
  log?: (line: string) => void;
}

export interface Environment {
  provided: ProvidedEnv;
  kafka: KafkaServer;
  etcd: EtcdServer;
  /** Milliseconds each step took, for the report of cold and warm starts. */
  timings: Record<string, number>;
  stop(): Promise<void>;
}

async function timed<T>(timings: Record<string, number>, name: string, job: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await job();
  timings[name] = Date.now() - started;
  return result;
}

async function seedOrFree(port: number, wanted: boolean): Promise<number> {
  return wanted && (await isPortFree(port)) ? port : freePort();
}

/**
 * Starts every server once, in parallel where they do not depend on each other. If one fails, the ones
 * already up are stopped and the error (with that server's log tail) is thrown; the run dir is kept.
 */
export async function startEnvironment(options: EnvironmentOptions = {}): Promise<Environment> {
  const log = options.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'kmaint-env-'));
  const timings: Record<string, number> = {};
  const stoppers: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    stoppers.length = 0;
  };
  const started = Date.now();
  try {
    const kafkaJob = (async () => {
      const libs = await timed(timings, 'kafkaLibs', () => ensureKafkaLibs());
      const port = await seedOrFree(9092, options.seedPorts === true);
      mkdirSync(join(dir, 'kafka'));
      const kafka = await timed(timings, 'kafka', () =>
        KafkaServer.start({ dir: join(dir, 'kafka'), libs, port }),
      );
      stoppers.push(() => kafka.stop());
      return { kafka, libs };
    })();
    const etcdJob = (async () => {
      const clientPort = await seedOrFree(2401, options.seedPorts === true);
      const peerPort = await seedOrFree(2402, options.seedPorts === true);
      const etcd = await timed(timings, 'etcd', () =>
        EtcdServer.start({ dir: join(dir, 'etcd'), clientPort, peerPort }),
      );
      stoppers.push(() => etcd.stop());
      return etcd;
    })();
    const [kafkaResult, etcdResult] = await Promise.allSettled([kafkaJob, etcdJob]);
    const failures = [kafkaResult, etcdResult].filter((r) => r.status === 'rejected');
    if (kafkaResult.status === 'rejected' || etcdResult.status === 'rejected') {
      throw failures.length === 1 ? failures[0]?.reason : new AggregateError(failures.map((f) => f.reason));
    }
    const { kafka, libs } = kafkaResult.value;
    const etcd = etcdResult.value;

    const control = await startControlServer({ servers: { kafka, etcd } });
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
        envControlUrl: control.url,
        envDir: dir,
      },
      kafka,
      etcd,
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
