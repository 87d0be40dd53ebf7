import { existsSync, readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkMemberReport } from '@kmaint/common/schemas';
import { membersPrefix } from '@kmaint/common';
import { uniqueName, waitFor } from '../env/helpers.ts';
import { kubectl } from '../env/tools.ts';
import { Durations } from './support/durations.ts';
import { KafkaProbe } from './support/kafka.ts';
import { isReady, KmaintInstall, podName } from './support/install.ts';
import { memberReports } from './support/observe.ts';

// Any consumer, any language: the chart runs the plain-KafkaConsumer Java example with kmaint-agent as a
// native sidecar. Under a steady load a MaintenanceWindow drains both replicas (member reports
// "maintenance", pods NotReady, EndpointSlice endpoints not ready, the group empty); deleting it brings
// them back, and every produced id appears in the apps' output. Then the Node service goes through the
// same window in the same run, so the two can be compared.

const partitions = 4;
const replicas = 2;
const durations = new Durations();

/** Produces `m-<n>` ids in small batches until stopped: the steady load. */
class Load {
  produced = 0;
  #stop = false;
  #done: Promise<void> | undefined;

  readonly #kafka: KafkaProbe;
  readonly #topic: string;

  constructor(kafka: KafkaProbe, topic: string) {
    this.#kafka = kafka;
    this.#topic = topic;
  }

  start(): void {
    this.#done = (async () => {
      while (!this.#stop) {
        const first = this.produced;
        await this.#kafka.producer.send({
          topic: this.#topic,
          messages: Array.from({ length: 10 }, (_, i) => ({
            key: `k-${(first + i) % 16}`,
            value: `m-${first + i}`,
          })),
        });
        this.produced += 10;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#done;
  }
}

const allNotReady = async (install: KmaintInstall) => {
  const pods = await install.consumerPods();
  return pods.length === replicas && pods.every((p) => !isReady(p));
};
const allReady = async (install: KmaintInstall) => {
  const pods = await install.consumerPods();
  return pods.length === replicas && pods.every(isReady);
};

function newInstall(
  prefix: string,
  consumer: Record<string, unknown>,
  env: Record<string, string>,
): KmaintInstall {
  return new KmaintInstall({
    prefix,
    replicas,
    topic: uniqueName(`${prefix}-topic`),
    group: uniqueName(`${prefix}-group`),
    target: uniqueName(`${prefix}-target`),
    drainTimeoutSeconds: 10,
    preStopSleepSeconds: 1,
    consumerEnv: env,
    consumerValues: consumer,
  });
}

describe('the Java KafkaConsumer example with the kmaint-agent sidecar, end to end', () => {
  const java = newInstall(
    'e2e-java',
    {
      image: { repository: 'kmaint/java-consumer', tag: 'e2e', pullPolicy: 'IfNotPresent' },
      agent: { enabled: true },
    },
    { WORK_TIME_MS: '2' },
  );
  const node = newInstall('e2e-node', {}, { SIMULATED_WORK_TIME: '2ms' });
  let kafka: KafkaProbe;
  let etcd: Etcd3;
  const started = Date.now();

  beforeAll(async () => {
    kafka = await KafkaProbe.connect(inject('kafkaBrokers'), uniqueName('e2e-java'));
    etcd = new Etcd3({ hosts: inject('etcdEndpoints') });
    await kafka.createTopic(java.options.topic, partitions);
    await kafka.createTopic(node.options.topic, partitions);
    await durations.time('java: helm install → pods ready', async () => {
      await java.install();
      await java.waitAllReady();
    });
  }, 300_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') {
      console.log(await java.diagnostics());
      console.log(await node.diagnostics());
    }
  });

  afterAll(async () => {
    await java.uninstall();
    await node.uninstall();
    await kafka?.close();
    etcd?.close();
    durations.record('whole test', Date.now() - started);
    durations.report('java consumer + agent e2e');
  }, 300_000);

  /** Every id the Java pods printed, with how often (its log files outlive the pods). */
  const processedIds = async (): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    const pods = (await java.consumerPods()).map(podName);
    for (const pod of pods) {
      const file = java.logFile(pod, 'consumer');
      if (!existsSync(file)) continue;
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const m = /^processed (m-\d+)$/.exec(line);
        if (m?.[1] !== undefined) counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
      }
    }
    return counts;
  };
  const total = async () => [...(await processedIds()).values()].reduce((a, b) => a + b, 0);

  it('drains out of the group and the Service on a window, rejoins after it, and loses no message', async () => {
    const load = new Load(kafka, java.options.topic);
    load.start();
    try {
      await waitFor(async () => (await total()) > 100, {
        message: 'the Java consumers to process messages',
        timeoutMs: 60_000,
      });

      const window = await java.applyWindow('drain', 'e2e: broker upgrade');
      const opened = Date.now();
      await waitFor(() => allNotReady(java), {
        message: 'every Java pod NotReady',
        timeoutMs: 60_000,
        intervalMs: 50,
      });
      durations.record('java: window applied → pods NotReady', Date.now() - opened);
      await kubectl([
        'wait',
        '--for=condition=Drained',
        `mw/${window}`,
        '-n',
        java.namespace,
        '--timeout=120s',
      ]);
      durations.record('java: window applied → Drained', Date.now() - opened);

      const reports = await memberReports(etcd, java.key);
      expect(reports.size).toBe(replicas);
      for (const r of reports.values()) {
        expect(r).toMatchObject({
          state: 'maintenance',
          inFlight: 0,
          appResponding: true,
          window: `${java.namespace}/${window}`,
        });
      }
      for (const raw of Object.values(await etcd.getAll().prefix(membersPrefix(java.key)).strings())) {
        expect(checkMemberReport(raw)).toEqual({ valid: true });
      }
      expect([...(await java.endpoints()).values()]).toEqual(Array(replicas).fill(false));
      expect((await kafka.groupMembers(java.options.group)).members).toEqual([]);
      const inWindow = await total();

      await kubectl(['delete', 'mw', window, '-n', java.namespace, '--timeout=60s']);
      const closed = Date.now();
      await waitFor(async () => (await total()) > inWindow, {
        message: 'the Java consumers to consume again',
        timeoutMs: 90_000,
        intervalMs: 50,
      });
      durations.record('java: window deleted → consuming', Date.now() - closed);
      await waitFor(() => allReady(java), {
        message: 'every Java pod Ready again',
        timeoutMs: 90_000,
        intervalMs: 50,
      });
      durations.record('java: window deleted → pods Ready', Date.now() - closed);
      await waitFor(async () => [...(await java.endpoints()).values()].every((r) => r), {
        message: 'every endpoint ready again',
        timeoutMs: 60_000,
      });
      expect((await kafka.groupMembers(java.options.group)).members).toHaveLength(replicas);
    } finally {
      await load.stop();
    }

    const ids = await waitFor(
      async () => {
        const seen = await processedIds();
        return seen.size === load.produced ? seen : undefined;
      },
      { message: `all ${load.produced} produced ids in the Java consumers' output`, timeoutMs: 120_000 },
    );
    const missing = Array.from({ length: load.produced }, (_, n) => `m-${n}`).filter((id) => !ids.has(id));
    expect(missing).toEqual([]);
    const duplicates = [...ids.values()].reduce((sum, n) => sum + n - 1, 0);
    console.log(
      `java consumer: ${load.produced} produced, ${ids.size} distinct processed, ${duplicates} duplicates`,
    );
    durations.record('java: produced', load.produced);
    durations.record('java: duplicates', duplicates);
  });

  it('the Node service beside it, through the same kind of window in the same run', async () => {
    await durations.time('node: helm install → pods ready', async () => {
      await node.install();
      await node.waitAllReady();
    });
    const load = new Load(kafka, node.options.topic);
    load.start();
    try {
      await waitFor(async () => (await node.totalProcessed()) > 100, {
        message: 'the Node consumers to process',
        timeoutMs: 60_000,
      });
      const window = await node.applyWindow('drain', 'e2e: broker upgrade');
      const opened = Date.now();
      await waitFor(() => allNotReady(node), {
        message: 'every Node pod NotReady',
        timeoutMs: 60_000,
        intervalMs: 50,
      });
      durations.record('node: window applied → pods NotReady', Date.now() - opened);
      await kubectl([
        'wait',
        '--for=condition=Drained',
        `mw/${window}`,
        '-n',
        node.namespace,
        '--timeout=120s',
      ]);
      durations.record('node: window applied → Drained', Date.now() - opened);
      expect((await kafka.groupMembers(node.options.group)).members).toEqual([]);
      const inWindow = await node.totalProcessed();
      await kubectl(['delete', 'mw', window, '-n', node.namespace, '--timeout=60s']);
      const closed = Date.now();
      await waitFor(async () => (await node.totalProcessed()) > inWindow, {
        message: 'the Node consumers to consume again',
        timeoutMs: 90_000,
        intervalMs: 50,
      });
      durations.record('node: window deleted → consuming', Date.now() - closed);
      await waitFor(() => allReady(node), {
        message: 'every Node pod Ready again',
        timeoutMs: 90_000,
        intervalMs: 50,
      });
      durations.record('node: window deleted → pods Ready', Date.now() - closed);
    } finally {
      await load.stop();
    }
    await waitFor(
      async () => {
        const offsets = await kafka.offsets(node.options.group, node.options.topic);
        return offsets.every((p) => p.committed === p.end);
      },
      { message: 'the Node consumers to commit every produced message', timeoutMs: 120_000 },
    );
  });
});
