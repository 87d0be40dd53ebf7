import { Watch, type V1ContainerStateTerminated, type V1Pod } from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../env/helpers.ts';
import { onPodNetwork } from '../env/pod-network.ts';
import { kubeConfig } from '../env/tools.ts';
import { Durations } from './support/durations.ts';
import { isReady, KmaintInstall, podName } from './support/install.ts';
import { KafkaProbe } from './support/kafka.ts';
import { logLines, memberReports } from './support/observe.ts';

// The chart on a real node: `helm install` of charts/kmaint with kmaint's images (built from the
// Dockerfile by test/env, imported into containerd, imagePullPolicy Never) onto containerd and the
// kubelet (test/env/real-node.ts). What the stand-in kubelet imitates is the real thing here: the
// kubelet's readiness probes, the ServiceAccount token the operator's in-cluster client uses, preStop
// then SIGTERM on a delete, exit codes; and the controller-manager takes the pods out of their
// EndpointSlice. The pods sit on the CNI bridge and reach Kafka, etcd and the apiserver at the host's
// address there (test/env/pod-network.ts).

const partitions = 4;
const replicas = 2;
const before = 2000; // produced before the window, still being consumed when it opens
const during = 500; // produced while the window is open
const preStopSleepSeconds = 3;

const durations = new Durations();

describe('the chart on a real node (containerd + kubelet), end to end', () => {
  const install = new KmaintInstall({
    prefix: 'e2e-real',
    replicas,
    topic: uniqueName('e2e-real-topic'),
    group: uniqueName('e2e-real-group'),
    target: uniqueName('e2e-real-target'),
    drainTimeoutSeconds: 10,
    preStopSleepSeconds,
    // Slow enough that the window and the SIGTERM find messages in flight.
    consumerEnv: { SIMULATED_WORK_TIME: '40ms' },
    node: 'real',
  });
  const { topic, group } = install.options;
  let kafka: KafkaProbe;
  let etcd: Etcd3;
  let started = 0;

  beforeAll(async () => {
    started = Date.now();
    kafka = await KafkaProbe.connect(inject('kafkaBrokers'), uniqueName('e2e-real'));
    await kafka.createTopic(topic, partitions);
    etcd = new Etcd3({ hosts: inject('etcdEndpoints') });
    await durations.time('node start + helm install → pods ready', async () => {
      await install.install();
      await install.waitAllReady(300_000);
    });
    durations.record('node start (image import included)', install.realNode.startMs);
  }, 900_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(await install.diagnostics());
  });

  afterAll(async () => {
    await install.uninstall();
    await kafka?.close();
    etcd?.close();
    durations.record('whole test', Date.now() - started);
    durations.report('real node e2e');
  }, 300_000);

  /** Messages are numbered across the tests of this file; `produced` is how many exist. */
  let produced = 0;
  const produce = async (count: number) => {
    await kafka.produce(topic, produced, count);
    produced += count;
  };

  it('runs the images on the pod network and drains every consumer out of its group and Service on a window, losing no message', async () => {
    const ns = install.namespace;
    const pods = await install.consumerPods();
    const [operator] = await install.operatorPods();
    // Containers of the images test/env built, on the bridge, not processes on loopback.
    for (const pod of [...pods, operator]) {
      expect(onPodNetwork(pod?.status?.podIP ?? ''), `${podName(pod ?? {})}: ${pod?.status?.podIP}`).toBe(
        true,
      );
      expect(pod?.status?.containerStatuses?.[0]?.imageID).toMatch(/sha256:/);
    }
    const names = pods.map(podName).sort();

    await produce(before);
    await waitFor(async () => (await install.totalProcessed()) >= 200, {
      message: 'the consumers to be consuming',
      timeoutMs: 60_000,
    });

    // The operator (in-cluster client, its pod's ServiceAccount token) reconciles the window.
    const window = await durations.time('kubectl apply → Drained', async () => {
      const name = await install.applyWindow('drain');
      await install.waitDrained(name);
      return name;
    });
    // Drained: the kubelet's own probe of /readyz has turned every pod NotReady.
    const drained = await install.consumerPods();
    expect(drained.map(podName).sort()).toEqual(names);
    expect(drained.filter(isReady).map(podName)).toEqual([]);
    for (const report of (await memberReports(etcd, install.key)).values())
      expect(report).toMatchObject({ state: 'maintenance', inFlight: 0, window: `${ns}/${window}` });
    expect(await kafka.groupMembers(group)).toEqual({ state: 'Empty', members: [] });

    const processedAtDrain = await install.totalProcessed();
    const offsetsAtDrain = await kafka.offsets(group, topic);
    expect(processedAtDrain, 'the window opened while messages were still waiting').toBeLessThan(before);
    await produce(during);

    // The real controller-manager marks the endpoints not ready.
    await durations.time('Drained → every endpoint not ready', () =>
      waitFor(
        async () => {
          const endpoints = await install.endpoints();
          return endpoints.size === replicas && [...endpoints.values()].every((ready) => !ready);
        },
        { message: 'every consumer endpoint listed and not ready', timeoutMs: 60_000 },
      ),
    );
    expect(await install.totalProcessed()).toBe(processedAtDrain);
    expect((await kafka.offsets(group, topic)).map((p) => p.committed)).toEqual(
      offsetsAtDrain.map((p) => p.committed),
    );

    await durations.time('kubectl delete → ready again', async () => {
      await install.deleteWindow(window);
      await install.waitAllReady(120_000);
    });
    expect((await install.consumerPods()).map(podName).sort()).toEqual(names);
    await kafka.membersReach(group, replicas);
    const offsets = await durations.time('ready again → all consumed', () =>
      kafka.allCommitted(group, topic),
    );
    expect(offsets.reduce((sum, p) => sum + p.end, 0)).toBe(produced);
    expect(await install.totalProcessed()).toBeGreaterThanOrEqual(produced);
  });

  it('deletes a consumer pod: the preStop hook first, then SIGTERM drains, commits and exits 0; its successor takes over', async () => {
    const ns = install.namespace;
    const pods = await install.waitAllReady();
    const victim = podName(pods[0] ?? {});
    // The kubelet reports the container's exit before the pod object goes.
    const exits = new Map<string, V1ContainerStateTerminated>();
    const watch = await new Watch(kubeConfig()).watch(
      `/api/v1/namespaces/${ns}/pods`,
      {},
      (_type, pod: V1Pod) => {
        const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
        if (terminated) exits.set(podName(pod), terminated);
      },
      () => undefined,
    );
    try {
      await produce(1000);
      await waitFor(async () => (await install.totalProcessed()) >= 100, {
        message: 'the consumers to be consuming',
        timeoutMs: 60_000,
      });

      const deleted = Date.now();
      await install.core.deleteNamespacedPod({ namespace: ns, name: victim });
      const exit = await durations.time('pod delete → container exited', () =>
        waitFor(() => exits.get(victim), { message: `${victim} to exit`, timeoutMs: 120_000 }),
      );
      expect(exit).toMatchObject({ exitCode: 0, reason: 'Completed' });

      // Its log, followed through `kubectl logs` (the apiserver asks the kubelet on its node IP).
      const log = await waitFor(
        () => {
          const lines = logLines(install.logFile(victim));
          return lines.some((l) => l.msg === 'shut down cleanly') ? lines : undefined;
        },
        { message: `${victim}'s log to end with its clean shutdown`, timeoutMs: 30_000 },
      );
      const sigterm = log.find((l) => l.msg === 'shutting down: draining first');
      expect(sigterm, 'SIGTERM started the drain').toBeDefined();
      expect(sigterm?.['signal']).toBe('SIGTERM');
      expect(log.map((l) => l.msg)).not.toContain('shutdown exceeded the grace period');
      // The kubelet sends SIGTERM only once the preStop sleep is over, after the delete was asked for.
      const sigtermAt = Date.parse(String(sigterm?.['time']));
      expect(sigtermAt - deleted).toBeGreaterThanOrEqual(preStopSleepSeconds * 1000);

      const successors = await durations.time('pod delete → successor ready', () => install.waitAllReady());
      expect(successors.map(podName)).not.toContain(victim);
      await kafka.membersReach(group, replicas);
      const offsets = await kafka.allCommitted(group, topic);
      expect(offsets.reduce((sum, p) => sum + p.end, 0)).toBe(produced);
    } finally {
      watch.abort();
    }
  });
});
