import { Watch, type V1Pod } from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../env/helpers.ts';
import { kubeConfig, kubectl } from '../env/tools.ts';
import { Durations } from './support/durations.ts';
import { consumerName, KmaintInstall, podName } from './support/install.ts';
import { KafkaProbe } from './support/kafka.ts';
import { logLines, memberReports } from './support/observe.ts';

// Pods going away the Kubernetes way, on a real node (containerd and the kubelet, kmaint's images;
// support/install.ts): `kubectl rollout restart` deletes each consumer pod in turn; the kubelet runs its
// preStop hook and only then SIGTERMs the container, whose service drains, commits, leaves the group and
// exits 0 within its grace period while the Deployment brings up its successor. Messages keep arriving
// throughout; at the end every one is committed, none skipped.

const partitions = 6;
const replicas = 3;
const before = 2000;
const during = 1000;
const preStopSleepSeconds = 2;

const durations = new Durations();

describe('a rolling restart of the consumers, end to end', () => {
  const install = new KmaintInstall({
    prefix: 'e2e-roll',
    replicas,
    topic: uniqueName('e2e-roll-topic'),
    group: uniqueName('e2e-roll-group'),
    target: uniqueName('e2e-roll-target'),
    drainTimeoutSeconds: 10,
    preStopSleepSeconds,
    // This test opens no window: the chart's default, cluster-wide operator RBAC, only has to work.
    clusterWideOperator: true,
    // Slow enough that each SIGTERM finds messages in flight.
    consumerEnv: { SIMULATED_WORK_TIME: '50ms' },
  });
  const { topic, group } = install.options;
  let kafka: KafkaProbe;
  let etcd: Etcd3;
  let started = 0;

  beforeAll(async () => {
    started = Date.now();
    kafka = await KafkaProbe.connect(inject('kafkaBrokers'), uniqueName('e2e-roll'));
    await kafka.createTopic(topic, partitions);
    etcd = new Etcd3({ hosts: inject('etcdEndpoints') });
    await durations.time('helm install → pods ready', async () => {
      await install.install();
      await install.waitAllReady(300_000);
    });
  }, 600_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(await install.diagnostics());
  });

  afterAll(async () => {
    await install.uninstall();
    await kafka?.close();
    etcd?.close();
    durations.record('whole test', Date.now() - started);
    durations.report('rolling restart e2e');
  }, 300_000);

  it('drains each deleted pod, exits it cleanly, and loses no message', async () => {
    const ns = install.namespace;
    const oldPods = (await install.consumerPods()).map(podName);
    await kafka.produce(topic, 0, before);
    await waitFor(async () => (await install.totalProcessed()) >= 100, {
      message: 'the consumers to be consuming',
      timeoutMs: 60_000,
    });

    // The kubelet reports each container's exit code before the pod object goes; the deletion
    // timestamp less the grace period is when the delete was asked for (to the second, rounded down).
    const exitCodes = new Map<string, number | undefined>();
    const deletedAt = new Map<string, number>();
    const watch = await new Watch(kubeConfig()).watch(
      `/api/v1/namespaces/${ns}/pods`,
      {},
      (_type, pod: V1Pod) => {
        const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
        if (terminated) exitCodes.set(podName(pod), terminated.exitCode);
        const deletion = pod.metadata?.deletionTimestamp;
        if (deletion !== undefined && !deletedAt.has(podName(pod)))
          deletedAt.set(
            podName(pod),
            new Date(deletion).getTime() - (pod.spec?.terminationGracePeriodSeconds ?? 0) * 1000,
          );
      },
      () => undefined,
    );
    const producing = kafka.produce(topic, before, during);
    await durations.time('rollout restart → rollout complete', async () => {
      await kubectl(['rollout', 'restart', `deployment/${consumerName}`, '-n', ns]);
      await kubectl(['rollout', 'status', `deployment/${consumerName}`, '-n', ns, '--timeout=240s']);
    });
    await producing;

    const newPods = (await install.waitAllReady(120_000)).map(podName);
    expect(newPods.filter((p) => oldPods.includes(p))).toEqual([]);
    await waitFor(() => oldPods.every((p) => exitCodes.has(p)), {
      message: 'the exit code of every old pod',
    });
    watch.abort();
    expect(Object.fromEntries(oldPods.map((p) => [p, exitCodes.get(p)]))).toEqual(
      Object.fromEntries(oldPods.map((p) => [p, 0])),
    );
    for (const pod of oldPods) {
      // 'shut down cleanly' is logged right before exit(0); the grace timer would log and exit(1) instead.
      // The log is followed through `kubectl logs` and may still be arriving.
      const lines = await waitFor(
        () => {
          const now = logLines(install.logFile(pod));
          return now.some((l) => l.msg === 'shut down cleanly') ? now : undefined;
        },
        { message: `${pod}: drained and exited 0`, timeoutMs: 30_000 },
      );
      const sigterm = lines.find((l) => l.msg === 'shutting down: draining first');
      expect(sigterm?.['signal'], `${pod}: SIGTERM started the drain`).toBe('SIGTERM');
      expect(
        lines.map((l) => l.msg),
        pod,
      ).not.toContain('shutdown exceeded the grace period');
      // The kubelet sends SIGTERM only once the preStop sleep is over.
      const afterDelete = Date.parse(String(sigterm?.['time'])) - (deletedAt.get(pod) ?? Infinity);
      expect(afterDelete, `${pod}: SIGTERM ms after the delete`).toBeGreaterThanOrEqual(
        preStopSleepSeconds * 1000,
      );
    }

    // The old members' reports went with their etcd leases; the new ones consume.
    await waitFor(
      async () => {
        const reports = await memberReports(etcd, install.key);
        return (
          [...reports.keys()].sort().join() === [...newPods].sort().join() &&
          [...reports.values()].every((r) => r.state === 'running')
        );
      },
      { message: 'member reports of exactly the new pods, running', timeoutMs: 30_000 },
    );
    await kafka.membersReach(group, replicas);

    const offsets = await durations.time('rollout complete → all consumed', () =>
      kafka.allCommitted(group, topic, 180_000),
    );
    expect(offsets.reduce((sum, p) => sum + p.end, 0)).toBe(before + during);
  });
});
