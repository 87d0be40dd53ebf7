import { existsSync, readFileSync } from 'node:fs';
import { Watch, type V1ContainerStatus, type V1Pod, type V1PodStatus } from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkMemberReport } from '@kmaint/common/schemas';
import { membersPrefix } from '@kmaint/common';
import { uniqueName, waitFor } from '../env/helpers.ts';
import { onPodNetwork } from '../env/pod-network.ts';
import { kubeConfig, kubectl } from '../env/tools.ts';
import { Durations } from './support/durations.ts';
import { KafkaProbe } from './support/kafka.ts';
import { isReady, KmaintInstall, podName } from './support/install.ts';
import { logLines, memberReports } from './support/observe.ts';

// Any consumer, any language: the chart runs the plain-KafkaConsumer Java example (its image from
// examples/java-consumer/Containerfile) with kmaint-agent as a native sidecar, on a real node
// (containerd and the kubelet; support/install.ts). The kubelet starts the agent before the app and
// stops it only after the app has exited. Under a steady load a MaintenanceWindow drains both replicas
// (member reports "maintenance", pods NotReady by the agent's readiness probe, EndpointSlice endpoints
// not ready, the group empty); deleting it brings them back, and every produced id appears in the apps'
// output. Then the Node service goes through the same window in the same run, on a node of its own
// after the Java one has gone (two real nodes would share the pod network's addresses), so the two can
// be compared.

const partitions = 4;
const replicas = 2;
const durations = new Durations();
const agentName = 'kmaint-agent';

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
  env: Record<string, string>,
  image: { consumerImage?: string; agent?: boolean } = {},
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
    ...image,
  });
}

/** A container's status in a pod's status, sidecars (init containers) included. */
function containerStatus(status: V1PodStatus | undefined, name: string): V1ContainerStatus | undefined {
  return [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])].find(
    (c) => c.name === name,
  );
}

/**
 * Runs `action` (which deletes the pod) and collects every status the pod's watch delivers until it is
 * gone; the last one is the kubelet's final word on its containers.
 */
async function statusesUntilGone(
  namespace: string,
  name: string,
  action: () => Promise<void>,
): Promise<V1PodStatus[]> {
  const seen: V1PodStatus[] = [];
  let gone = false;
  const watch = await new Watch(kubeConfig()).watch(
    `/api/v1/namespaces/${namespace}/pods`,
    { fieldSelector: `metadata.name=${name}` },
    (type, pod: V1Pod) => {
      if (pod.status !== undefined) seen.push(pod.status);
      if (type === 'DELETED') gone = true;
    },
    () => undefined,
  );
  try {
    await action();
    await waitFor(() => gone, { message: `pod ${name} to be gone`, timeoutMs: 90_000 });
  } finally {
    watch.abort();
  }
  return seen;
}

describe('the Java KafkaConsumer example with the kmaint-agent sidecar, end to end', () => {
  let kafka: KafkaProbe;
  let etcd: Etcd3;
  const started = Date.now();

  beforeAll(async () => {
    kafka = await KafkaProbe.connect(inject('kafkaBrokers'), uniqueName('e2e-java'));
    etcd = new Etcd3({ hosts: inject('etcdEndpoints') });
  });

  afterAll(async () => {
    await kafka?.close();
    etcd?.close();
    durations.record('whole test', Date.now() - started);
    durations.report('java consumer + agent e2e');
  });

  describe('on a real node', () => {
    const java = newInstall(
      'e2e-java',
      { WORK_TIME_MS: '2' },
      { consumerImage: 'java-consumer', agent: true },
    );

    beforeAll(async () => {
      await kafka.createTopic(java.options.topic, partitions);
      await durations.time('java: helm install → pods ready', async () => {
        await java.install();
        await java.waitAllReady(300_000);
      });
    }, 600_000);

    afterEach(async (ctx) => {
      if (ctx.task.result?.state === 'fail') console.log(await java.diagnostics());
    });

    afterAll(async () => {
      await java.uninstall();
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
    /** What the app logs when it cannot reach its agent: never, if the agent outlives it on both ends. */
    const agentFailures = (pod: string): string[] => {
      const file = java.logFile(pod, 'consumer');
      if (!existsSync(file)) return [];
      return readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => /^(agent poll failed|reporting \S+ failed)/.test(line));
    };

    it('runs the image with the agent as a native sidecar, started before the app', async () => {
      const pods = await java.consumerPods();
      expect(pods).toHaveLength(replicas);
      for (const pod of pods) {
        const name = podName(pod);
        expect(onPodNetwork(pod.status?.podIP ?? ''), `${name}: ${pod.status?.podIP}`).toBe(true);
        const sidecar = pod.spec?.initContainers?.find((c) => c.name === agentName);
        expect(sidecar?.restartPolicy).toBe('Always');
        const agent = containerStatus(pod.status, agentName);
        const app = containerStatus(pod.status, 'consumer');
        expect(app?.imageID).toMatch(/sha256:/);
        expect(agent?.imageID).toMatch(/sha256:/);
        expect(agent?.started).toBe(true);
        expect([agent?.restartCount, app?.restartCount]).toEqual([0, 0]);
        // The kubelet creates the app only once the sidecar's startup probe has passed; its status
        // times are whole seconds, so "before" is "not after" there, and the logs say the rest.
        const agentStart = Date.parse(String(agent?.state?.running?.startedAt));
        const appStart = Date.parse(String(app?.state?.running?.startedAt));
        expect(agentStart).toBeLessThanOrEqual(appStart);
        const listening = await waitFor(
          () => logLines(java.logFile(name, agentName)).find((l) => l.msg === 'kmaint agent listening'),
          { message: `${name}: the agent's log to show it listening`, timeoutMs: 30_000 },
        );
        const listenedAt = Date.parse(String(listening['time']));
        expect(listenedAt).toBeLessThan(appStart + 1000);
        // The app's first poll found its agent serving.
        expect(agentFailures(name)).toEqual([]);
        // kafka-clients' warnings and errors reach the log: SLF4J found the example's binding.
        expect(readFileSync(java.logFile(name, 'consumer'), 'utf8')).not.toMatch(/SLF4J.*no-operation/);
        console.log(
          `${name}: agent started ${agent?.state?.running?.startedAt}, listening at ` +
            `${String(listening['time'])}, app started ${app?.state?.running?.startedAt}`,
        );
      }
    });

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
        await java.waitDrained(window);
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
        // The controller-manager takes the pods out of the Service once the kubelet marks them NotReady.
        await waitFor(async () => [...(await java.endpoints()).values()].every((r) => !r), {
          message: 'every Java endpoint not ready',
          timeoutMs: 60_000,
        });
        expect([...(await java.endpoints()).values()]).toEqual(Array(replicas).fill(false));
        expect((await kafka.groupMembers(java.options.group)).members).toEqual([]);
        const inWindow = await total();

        await java.deleteWindow(window);
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
      for (const pod of (await java.consumerPods()).map(podName)) expect(agentFailures(pod)).toEqual([]);
    }, 300_000);

    it('stops the agent only after the app has exited when its pod is deleted', async () => {
      const [victim] = (await java.consumerPods()).map(podName);
      if (victim === undefined) throw new Error('no Java pod to delete');
      const deleted = Date.now();
      const seen = await statusesUntilGone(java.namespace, victim, async () => {
        await kubectl(['delete', 'pod', victim, '-n', java.namespace, '--wait=false']);
      });
      durations.record('java: pod delete → gone', Date.now() - deleted);
      const last = seen.at(-1);
      const app = containerStatus(last, 'consumer')?.state?.terminated;
      const agent = containerStatus(last, agentName)?.state?.terminated;
      expect(app, 'the app container terminated').toBeDefined();
      expect(agent, 'the agent container terminated').toBeDefined();
      // 143: the JVM ran its shutdown hook (drain, commit, leave the group) and ended on the SIGTERM.
      expect(app?.exitCode).toBe(143);
      expect(agent?.exitCode).toBe(0);
      const appEnd = Date.parse(String(app?.finishedAt));
      const agentEnd = Date.parse(String(agent?.finishedAt));
      expect(appEnd).toBeLessThanOrEqual(agentEnd);
      // The agent's SIGTERM came once the app had gone (whole seconds on the kubelet's side), and the
      // app never lost its agent on the way out.
      const stopping = await waitFor(
        () =>
          logLines(java.logFile(victim, agentName)).find(
            (l) => l.msg === 'stopping: removing the member report',
          ),
        { message: `${victim}'s agent log to show its SIGTERM`, timeoutMs: 30_000 },
      );
      expect(Date.parse(String(stopping['time']))).toBeGreaterThanOrEqual(appEnd);
      expect(agentFailures(victim)).toEqual([]);
      const agentAfterApp = seen.some(
        (s) =>
          containerStatus(s, 'consumer')?.state?.terminated !== undefined &&
          containerStatus(s, agentName)?.state?.running !== undefined,
      );
      console.log(
        `${victim}: app finished ${app?.finishedAt} (exit ${app?.exitCode}), agent SIGTERM at ` +
          `${String(stopping['time'])}, finished ${agent?.finishedAt} ` +
          `(exit ${agent?.exitCode}); a status with the app gone and the agent running: ${agentAfterApp}`,
      );
      await java.waitAllReady(120_000);
    }, 240_000);
  });

  describe('the Node service beside it, for comparison', () => {
    const node = newInstall('e2e-node', { SIMULATED_WORK_TIME: '2ms' });

    beforeAll(async () => {
      await kafka.createTopic(node.options.topic, partitions);
    });

    afterEach(async (ctx) => {
      if (ctx.task.result?.state === 'fail') console.log(await node.diagnostics());
    });

    afterAll(async () => {
      await node.uninstall();
    }, 300_000);

    it('goes through the same kind of window in the same run', async () => {
      await durations.time('node: helm install → pods ready', async () => {
        await node.install();
        await node.waitAllReady(300_000);
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
        await node.waitDrained(window);
        durations.record('node: window applied → Drained', Date.now() - opened);
        expect((await kafka.groupMembers(node.options.group)).members).toEqual([]);
        const inWindow = await node.totalProcessed();
        await node.deleteWindow(window);
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
    }, 600_000);
  });
});
