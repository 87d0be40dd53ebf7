import { execFile } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { memberKey } from '@kmaint/common';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../../test/env/helpers.ts';
import { Cluster } from './cluster.ts';
import { ServiceProcess, type LogLine } from './service-process.ts';

/**
 * The process lifecycle of the real service: SIGTERM during steady consumption drains, commits, leaves
 * the group and exits 0 within its grace period; a restart loses nothing; a second signal ends it at once;
 * a bad configuration never starts.
 */

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const node = `${repoRoot}node_modules/.bin/node`;
const cluster = new Cluster();
const started: ServiceProcess[] = [];

async function start(env: Record<string, string>): Promise<ServiceProcess> {
  const service = await ServiceProcess.start(env);
  started.push(service);
  return service;
}

/** Offsets the example handler finished, per partition, from its debug log lines. */
function processedOffsets(logs: LogLine[], topic: string): Map<number, number[]> {
  const byPartition = new Map<number, number[]>();
  for (const line of logs) {
    if (line.msg !== 'message processed' || line['topic'] !== topic) continue;
    const partition = line['partition'] as number;
    byPartition.set(partition, [...(byPartition.get(partition) ?? []), Number(line['offset'])]);
  }
  return byPartition;
}

beforeAll(async () => {
  await cluster.connect();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.kill()));
});
afterAll(async () => {
  await cluster.close();
});

describe('SIGTERM during steady consumption', () => {
  it('drains with /readyz 503 while HTTP stays up, exits 0, leaves the group; a restart loses nothing', async () => {
    const name = uniqueName('api-sigterm');
    const [topic, group, key] = [name, name, `/maintenance/${name}`];
    const MESSAGES = 300;
    await cluster.ensureTopics([topic]);
    const env = {
      KAFKA_TOPICS: topic,
      KAFKA_CONSUMER_GROUP: group,
      MAINTENANCE_KEY: key,
      MEMBER_ID: name,
      LOG_LEVEL: 'debug',
      SHUTDOWN_GRACE_PERIOD: '10s',
    };
    const first = await start({ ...env, SIMULATED_WORK_TIME: '300ms' });
    await waitFor(async () => (await first.get('/readyz')).status === 200, {
      timeoutMs: 60_000,
      message: 'the first instance to consume',
    });
    await cluster.produce(topic, MESSAGES);
    await waitFor(async () => (await first.get('/messages/stats')).body.kafka.processed >= 20, {
      timeoutMs: 60_000,
      message: 'steady consumption',
    });
    expect(await cluster.etcd.get(memberKey(key, name)).string()).not.toBeNull();

    const signalledAt = Date.now();
    first.signal('SIGTERM');
    // Probe as Kubernetes does while the pod terminates: not ready, but still answering.
    const seen = { notReady: false, healthDuringShutdown: false };
    let exit: Awaited<typeof first.exited> | undefined;
    void first.exited.then((e) => (exit = e));
    while (exit === undefined) {
      try {
        const [ready, health] = await Promise.all([first.get('/readyz'), first.get('/health')]);
        if (ready.status === 503) seen.notReady = true;
        if (health.status === 200 && health.body.maintenance.shuttingDown) seen.healthDuringShutdown = true;
      } catch {
        // The server closes last, just before the exit: a refused connection then is expected.
      }
    }
    const stoppedIn = exit.at - signalledAt;
    console.log(`SIGTERM → exit ${exit.code} in ${stoppedIn} ms (grace period 10 s)`);
    // Exit 0 means it finished within the grace period: past it the service exits 1 on its own.
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(seen).toEqual({ notReady: true, healthDuringShutdown: true });
    expect(first.logs.map((l) => l.msg)).toEqual(
      expect.arrayContaining(['shutting down: draining first', 'shut down cleanly']),
    );
    const described = await cluster.admin.describeGroups([group]);
    expect(described.groups[0]).toMatchObject({ state: 'Empty', members: [] });
    expect(await cluster.etcd.get(memberKey(key, name)).string()).toBeNull();

    const afterFirst = await cluster.offsets(group, topic);
    const firstProcessed = processedOffsets(first.logs, topic);
    for (const p of afterFirst) {
      // Everything committed was processed by the first instance: a commit never runs ahead.
      const done = new Set(firstProcessed.get(p.partition) ?? []);
      for (let o = 0; o < p.committed; o++) expect(done.has(o), `p${p.partition}@${o}`).toBe(true);
    }

    const second = await start({ ...env, SIMULATED_WORK_TIME: '0ms' });
    await waitFor(() => cluster.allCommitted(group, topic), {
      timeoutMs: 120_000,
      message: 'the restarted instance to process and commit the rest',
    });
    const secondProcessed = processedOffsets(second.logs, topic);
    let duplicates = 0;
    let total = 0;
    for (const p of await cluster.offsets(group, topic)) {
      const all = [...(firstProcessed.get(p.partition) ?? []), ...(secondProcessed.get(p.partition) ?? [])];
      const distinct = new Set(all);
      duplicates += all.length - distinct.size;
      total += p.end;
      for (let o = 0; o < p.end; o++) expect(distinct.has(o), `p${p.partition}@${o} processed`).toBe(true);
    }
    expect(total).toBe(MESSAGES);
    console.log(
      `${MESSAGES} messages: ${afterFirst.reduce((n, p) => n + Math.max(0, p.committed), 0)} committed before ` +
        `SIGTERM's exit, all ${total} processed after the restart, ${duplicates} processed twice`,
    );
    expect(duplicates).toBe(0);

    second.signal('SIGINT');
    expect(await second.exited).toMatchObject({ code: 0, signal: null });
  });
});

describe('signals and failures', () => {
  it('a second signal during the drain exits at once', async () => {
    const name = uniqueName('api-second-signal');
    await cluster.ensureTopics([name]);
    const service = await start({
      KAFKA_TOPICS: name,
      KAFKA_CONSUMER_GROUP: name,
      MAINTENANCE_KEY: `/maintenance/${name}`,
      MEMBER_ID: name,
      SIMULATED_WORK_TIME: '20s',
      SHUTDOWN_GRACE_PERIOD: '25s',
    });
    await waitFor(async () => (await service.get('/readyz')).status === 200, {
      timeoutMs: 60_000,
      message: 'the service to consume',
    });
    await cluster.produce(name, 6);
    await waitFor(async () => (await service.get('/health')).body.inFlight > 0, {
      message: 'work in flight',
    });
    service.signal('SIGTERM');
    await waitFor(() => service.logs.some((l) => l.msg === 'shutting down: draining first'), {
      message: 'the drain to begin',
    });
    service.signal('SIGTERM');
    expect(await service.exited).toMatchObject({ code: 128 + 15, signal: null });
    expect(service.logs.some((l) => l.msg === 'second signal: exiting at once')).toBe(true);
  });

  it('a bad configuration exits 2 naming every bad variable, before touching Kafka or etcd', async () => {
    const result = await run(node, ['--conditions=@kmaint/source', 'service/src/main.ts'], {
      cwd: repoRoot,
      env: { PATH: process.env['PATH'], HTTP_PORT: 'eighty', KAFKA_BROKERS: 'no-port', DRAIN_TIMEOUT: '0s' },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(result.code).toBe(2);
    for (const name of ['HTTP_PORT', 'KAFKA_BROKERS', 'DRAIN_TIMEOUT'])
      expect(result.stderr).toContain(`${name}: `);
  });

  it('a failure at start (HTTP port taken) is logged as JSON and exits 1', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '0.0.0.0', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const result = await run(node, ['--conditions=@kmaint/source', 'service/src/main.ts'], {
        cwd: repoRoot,
        env: {
          PATH: process.env['PATH'],
          HTTP_PORT: String(port),
          KAFKA_BROKERS: inject('kafkaBrokers'),
          ETCD_ENDPOINTS: inject('etcdEndpoints'),
        },
      }).then(
        () => ({ code: 0, stdout: '' }),
        (err: { code: number; stdout: string }) => err,
      );
      expect(result.code).toBe(1);
      const fatal = result.stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine)
        .find((l) => l.level === 'fatal');
      expect(fatal).toMatchObject({ msg: 'failed to start; exiting', err: { code: 'EADDRINUSE' } });
    } finally {
      blocker.close();
    }
  });

  it('--help lists the variables with their defaults and exits 0', async () => {
    const { stdout } = await run(node, ['--conditions=@kmaint/source', 'service/src/main.ts', '--help'], {
      cwd: repoRoot,
    });
    expect(stdout).toMatch(/^KAFKA_BROKERS +kafka:29092 /m);
    expect(stdout).toMatch(/^ETCD_ENDPOINTS +etcd:2379 /m);
    expect(stdout).toMatch(/^SHUTDOWN_GRACE_PERIOD +25s /m);
  });
});
