import { Etcd3 } from 'etcd3';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseSwitchValue } from '@kmaint/common';
import { uniqueName, waitFor } from '../env/helpers.ts';
import { removeScrapeTargets, setScrapeTargets } from '../env/prometheus-targets.ts';
import { kubectl } from '../env/tools.ts';
import { Durations } from './support/durations.ts';
import { KafkaProbe } from './support/kafka.ts';
import { isReady, KmaintInstall, podName } from './support/install.ts';
import { onPodNetwork } from '../env/pod-network.ts';
import { logLines, memberReports, podStats, promQuery } from './support/observe.ts';

// The whole flow (docs/architecture.md) on real servers: `helm install` of the chart runs the operator and three
// consumers on a real node (containerd and the kubelet, kmaint's images built from the Dockerfile, the
// pods on the CNI bridge; support/install.ts), with the kubelet's own probes and the controller-manager
// moving them in and out of their EndpointSlice; `kubectl apply` of a MaintenanceWindow
// drains them out of their group and their Service while messages keep arriving; `kubectl delete` brings
// them back, and every message is processed, none skipped. Then the same with mode pause, where the
// consumers keep their group membership (no rebalance) while they hold still; and a pod replaced during a
// window, whose successor starts in maintenance.

const partitions = 6;
const replicas = 3;
const before = 2000; // produced before the window, still being consumed when it opens
const during = 500; // produced while the window is open

const durations = new Durations();

describe('a MaintenanceWindow, end to end', () => {
  const run = uniqueName('e2e-mw');
  const install = new KmaintInstall({
    prefix: 'e2e-mw',
    replicas,
    topic: uniqueName('e2e-mw-topic'),
    group: uniqueName('e2e-mw-group'),
    target: uniqueName('e2e-mw-target'),
    drainTimeoutSeconds: 10,
    preStopSleepSeconds: 1,
    // Slow enough that the window opens while messages are still in flight.
    consumerEnv: { SIMULATED_WORK_TIME: '40ms' },
  });
  const { topic, group } = install.options;
  let kafka: KafkaProbe;
  let etcd: Etcd3;
  let started = 0;
  const scrapeTargets: string[] = [];

  beforeAll(async () => {
    started = Date.now();
    kafka = await KafkaProbe.connect(inject('kafkaBrokers'), run);
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
    for (const name of scrapeTargets) removeScrapeTargets(name);
    await install.uninstall();
    await kafka?.close();
    etcd?.close();
    durations.record('whole test', Date.now() - started);
    durations.report('maintenance window e2e');
  }, 300_000);

  /** Messages are numbered across the tests of this file; `produced` is how many exist. */
  let produced = 0;
  const produce = async (count: number) => {
    await kafka.produce(topic, produced, count);
    produced += count;
  };

  /** How many consumers Prometheus last scraped in `state`. */
  const inStateByPrometheus = async (state: string) =>
    [...(await promQuery(`kmaint_maintenance_state{e2e="${run}",state="${state}"}`)).values()].filter(
      (v) => v === '1',
    ).length;
  const everyEndpointNotReady = () =>
    waitFor(async () => [...(await install.endpoints()).values()].every((ready) => !ready), {
      message: 'every consumer endpoint to be not ready',
      timeoutMs: 60_000,
    });

  it('drains every consumer out of its group and Service, and loses no message', async () => {
    const ns = install.namespace;
    const running = await install.consumerPods();
    const pods = running.map(podName);
    // Containers of the images test/env built, on the bridge, not processes on loopback.
    for (const pod of [...running, ...(await install.operatorPods())]) {
      expect(onPodNetwork(pod.status?.podIP ?? ''), `${podName(pod)}: ${pod.status?.podIP}`).toBe(true);
      expect(pod.status?.containerStatuses?.[0]?.imageID).toMatch(/sha256:/);
    }

    // Prometheus scrapes each consumer pod where it really listens.
    for (const pod of running) {
      const name = podName(pod);
      scrapeTargets.push(`${run}-${name}`);
      setScrapeTargets(`${run}-${name}`, [new URL(install.url(pod)).host], { pod: name, e2e: run });
    }
    await waitFor(async () => (await inStateByPrometheus('running')) === replicas, {
      message: 'Prometheus to see every consumer running',
      timeoutMs: 60_000,
    });

    await produce(before);
    await waitFor(async () => (await install.totalProcessed()) >= 200, {
      message: 'the consumers to be consuming',
      timeoutMs: 60_000,
    });

    const window = await durations.time('kubectl apply → Drained', async () => {
      const name = await install.applyWindow('drain');
      await install.waitDrained(name);
      return name;
    });

    // Drained means every selected pod is not Ready and reported "maintenance".
    const drainedPods = await install.consumerPods();
    expect(drainedPods.map(podName).sort()).toEqual([...pods].sort());
    expect(drainedPods.filter(isReady).map(podName)).toEqual([]);
    const reports = await memberReports(etcd, install.key);
    expect([...reports.keys()].sort()).toEqual([...pods].sort());
    for (const report of reports.values()) {
      expect(report).toMatchObject({ state: 'maintenance', inFlight: 0, window: `${ns}/${window}` });
    }
    expect(await kafka.groupMembers(group)).toEqual({ state: 'Empty', members: [] });
    const switchValue = parseSwitchValue((await etcd.get(install.key).string()) ?? '');
    expect(switchValue).toMatchObject({ ok: true, value: { enabled: true, mode: 'drain' } });

    // Snapshot at Drained, then produce more: nothing of it may be processed until the window ends.
    const processedAtDrain = await install.totalProcessed();
    const offsetsAtDrain = await kafka.offsets(group, topic);
    expect(processedAtDrain, 'the window opened while messages were still waiting').toBeLessThan(before);
    await produce(during);

    // The real controller-manager takes the drained pods out of the Service.
    await everyEndpointNotReady();
    expect([...(await install.endpoints()).keys()].sort()).toEqual([...pods].sort());
    const got = await kubectl(['get', 'mw', window, '-n', ns, '--no-headers']);
    expect(got.stdout).toMatch(new RegExp(`^${window}\\s+${install.key}\\s+drain\\s+True\\s+True\\s+3/3\\s`));
    await waitFor(async () => (await inStateByPrometheus('maintenance')) === replicas, {
      message: 'Prometheus to see every consumer in maintenance',
      timeoutMs: 60_000,
    });

    // A while (the checks above) after the extra messages were produced, none was taken.
    expect(await install.totalProcessed()).toBe(processedAtDrain);
    expect((await kafka.offsets(group, topic)).map((p) => p.committed)).toEqual(
      offsetsAtDrain.map((p) => p.committed),
    );
    expect(await kafka.groupMembers(group)).toEqual({ state: 'Empty', members: [] });

    await durations.time('kubectl delete → ready again', async () => {
      await install.deleteWindow(window);
      await install.waitAllReady(120_000);
    });
    expect((await install.consumerPods()).map(podName).sort()).toEqual([...pods].sort());
    expect(parseSwitchValue((await etcd.get(install.key).string()) ?? '')).toMatchObject({
      ok: true,
      value: { enabled: false },
    });
    await kafka.membersReach(group, replicas);

    const total = produced;
    const offsets = await durations.time('ready again → all consumed', () =>
      kafka.allCommitted(group, topic),
    );
    expect(offsets.reduce((sum, p) => sum + p.end, 0)).toBe(total);
    const processed = await install.totalProcessed();
    expect(processed).toBeGreaterThanOrEqual(total);
    console.log(`drain: processed ${processed} of ${total} messages (${processed - total} twice)`);
    await waitFor(async () => (await inStateByPrometheus('running')) === replicas, {
      message: 'Prometheus to see every consumer running again',
      timeoutMs: 60_000,
    });
  });

  it('pauses the consumers in their group (mode pause) without a rebalance, and loses no message', async () => {
    await install.waitAllReady();
    const { members } = await waitFor(
      async () => {
        const now = await kafka.groupMembers(group);
        return now.state === 'Stable' && now.members.length === replicas ? now : undefined;
      },
      { message: `a stable group of ${replicas}`, timeoutMs: 60_000 },
    );
    const processedBefore = await install.totalProcessed();
    await produce(before);
    await waitFor(async () => (await install.totalProcessed()) >= processedBefore + 200, {
      message: 'the consumers to be consuming',
      timeoutMs: 60_000,
    });

    const window = await durations.time('kubectl apply → Drained (pause)', async () => {
      const name = await install.applyWindow('pause');
      await install.waitDrained(name);
      return name;
    });
    expect((await install.consumerPods()).filter(isReady).map(podName)).toEqual([]);
    for (const report of (await memberReports(etcd, install.key)).values())
      expect(report).toMatchObject({ state: 'maintenance', inFlight: 0 });
    // Paused, not gone: the same members hold their partitions.
    expect(await kafka.groupMembers(group)).toEqual({ state: 'Stable', members });

    const processedAtDrain = await install.totalProcessed();
    const offsetsAtDrain = await kafka.offsets(group, topic);
    expect(processedAtDrain, 'the window opened while messages were still waiting').toBeLessThan(produced);
    await produce(during);
    await everyEndpointNotReady();
    await waitFor(async () => (await inStateByPrometheus('maintenance')) === replicas, {
      message: 'Prometheus to see every consumer in maintenance',
      timeoutMs: 60_000,
    });
    expect(await install.totalProcessed()).toBe(processedAtDrain);
    expect((await kafka.offsets(group, topic)).map((p) => p.committed)).toEqual(
      offsetsAtDrain.map((p) => p.committed),
    );

    await durations.time('kubectl delete → ready again (pause)', async () => {
      await install.deleteWindow(window);
      await install.waitAllReady(120_000);
    });
    expect(await kafka.groupMembers(group)).toEqual({ state: 'Stable', members });
    const total = produced;
    const offsets = await kafka.allCommitted(group, topic);
    expect(offsets.reduce((sum, p) => sum + p.end, 0)).toBe(total);
    const processed = await install.totalProcessed();
    expect(processed).toBeGreaterThanOrEqual(total);
    console.log(`pause: processed ${processed} of ${total} messages (${processed - total} twice)`);
  });

  it('replaces a pod deleted during a window with one that starts in maintenance, and the window stays Drained', async () => {
    const ns = install.namespace;
    const pods = (await install.waitAllReady()).map(podName);
    const window = await install.applyWindow('drain');
    await install.waitDrained(window);
    const offsetsAtDrain = await kafka.offsets(group, topic);

    const [victim = ''] = pods;
    const replacement = await durations.time('pod deleted in a window → successor drained', async () => {
      // kubectl waits for the object to go: the kubelet has SIGTERMed the process and seen it exit.
      await kubectl(['delete', 'pod', victim, '-n', ns, '--timeout=90s']);
      const successor = await waitFor(
        async () => {
          const now = (await install.consumerPods()).map(podName);
          const fresh = now.filter((p) => !pods.includes(p));
          return now.length === replicas && fresh.length === 1 ? fresh[0] : undefined;
        },
        { message: 'a successor pod', timeoutMs: 60_000 },
      );
      await waitFor(
        async () => {
          const reports = await memberReports(etcd, install.key);
          const mw = JSON.parse((await kubectl(['get', 'mw', window, '-n', ns, '-o', 'json'])).stdout) as {
            status?: { pods?: { selected?: number; drained?: number } };
          };
          return (
            reports.get(successor)?.state === 'maintenance' &&
            !reports.has(victim) &&
            mw.status?.pods?.selected === replicas &&
            mw.status.pods.drained === replicas
          );
        },
        { message: 'the successor reported drained and counted in the window', timeoutMs: 60_000 },
      );
      await install.waitDrained(window);
      return successor;
    });

    // Its log, followed through `kubectl logs`, may still be arriving.
    await waitFor(() => logLines(install.logFile(victim)).some((l) => l.msg === 'shut down cleanly'), {
      message: `${victim}'s log to end with its clean shutdown`,
      timeoutMs: 30_000,
    });
    // Startup respects the key: the successor never joined the group and is not in the Service.
    expect(await kafka.groupMembers(group)).toEqual({ state: 'Empty', members: [] });
    const successorPod = (await install.consumerPods()).find((p) => podName(p) === replacement);
    if (successorPod === undefined) throw new Error(`the successor pod ${replacement} is gone`);
    expect(isReady(successorPod)).toBe(false);
    await everyEndpointNotReady();

    await produce(300);
    expect((await podStats(install.url(successorPod))).processed).toBe(0);
    expect((await kafka.offsets(group, topic)).map((p) => p.committed)).toEqual(
      offsetsAtDrain.map((p) => p.committed),
    );

    await install.deleteWindow(window);
    await install.waitAllReady(120_000);
    await kafka.membersReach(group, replicas);
    const offsets = await kafka.allCommitted(group, topic);
    expect(offsets.reduce((sum, p) => sum + p.end, 0)).toBe(produced);
    expect((await memberReports(etcd, install.key)).get(replacement)?.state).toBe('running');
  });
});
