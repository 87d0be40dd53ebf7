import { memberKey, parseMemberReport } from '@kmaint/common';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startKafka, stopKafka } from '../../../../test/env/control.ts';
import { uniqueName, waitFor } from '../../../../test/env/helpers.ts';
import { Cluster } from './cluster.ts';
import { ServiceProcess } from './service-process.ts';

/**
 * What the service reports while it is not consuming with the switch off: at start-up, while a join
 * fails, with the broker stopped and after a drain-mode leave. Every reported state must be true, and
 * only a switch that is on makes it answer 503 MAINTENANCE.
 */

const cluster = new Cluster();
const started: ServiceProcess[] = [];
let kafkaDown = false;

async function start(name: string, env: Record<string, string> = {}): Promise<ServiceProcess> {
  const service = await ServiceProcess.start({
    KAFKA_TOPICS: name,
    KAFKA_CONSUMER_GROUP: name,
    MAINTENANCE_KEY: `/maintenance/${name}`,
    MEMBER_ID: name,
    ...env,
  });
  started.push(service);
  return service;
}

const ready = async (s: ServiceProcess): Promise<boolean> => (await s.get('/readyz')).status === 200;

const joinFailuresSince = async (s: ServiceProcess, since: number): Promise<number> =>
  (await s.get('/messages/stats')).body.kafka.errors.filter(
    (e: { code: string; at: string }) => e.code === 'KAFKA_JOIN_FAILED' && Date.parse(e.at) > since,
  ).length;

async function groupMemberCount(group: string): Promise<number> {
  const { groups } = await cluster.admin.describeGroups([group]);
  return groups[0]?.members.length ?? 0;
}

async function bringKafkaBack(): Promise<void> {
  if (!kafkaDown) return;
  await startKafka();
  kafkaDown = false;
  // The test's own admin reconnects on its next call; wait for the broker to answer it.
  await waitFor(async () => (await cluster.admin.listTopics()).length >= 0, { timeoutMs: 60_000 });
}

beforeAll(async () => {
  await cluster.connect();
});
afterEach(async () => {
  await bringKafkaBack();
  await Promise.all(started.splice(0).map((s) => s.kill()));
});
afterAll(async () => {
  await cluster.close();
});

describe('start-up with the switch off', () => {
  it('defect 1: while the first join waits for a missing topic, /health says joining with maintenance inactive, /readyz 503, /topics/info and /messages/send are not refused as maintenance', async () => {
    const name = uniqueName('d1-join');
    const missing = `${name}-later`;
    await cluster.ensureTopics([name]);
    const service = await start(name, { KAFKA_TOPICS: `${name},${missing}` });
    await waitFor(
      async () => (await service.get('/health')).body.components.kafka.missingTopics !== undefined,
      { timeoutMs: 60_000, message: 'the join to wait for the missing topic' },
    );

    const health = (await service.get('/health')).body;
    expect(health.maintenance.active).toBe(false);
    expect(health.maintenance.state).toBe('joining');
    expect(health.status).not.toBe('maintenance');
    const readyz = await service.get('/readyz');
    expect(readyz.status).toBe(503);
    expect(readyz.body.error.code).toBe('NOT_READY');
    const topics = await service.get('/topics/info');
    expect(topics.body.error?.code).not.toBe('MAINTENANCE');
    const sent = await service.post('/messages/send', JSON.stringify({ topic: name, message: 'hello' }));
    expect(sent.status).toBe(200);
    expect((await service.get('/metrics')).body).toContain('kmaint_maintenance_state{state="joining"} 1');

    // /topics/info asked the broker for the missing topic's metadata, which may have auto-created it.
    await waitFor(async () => (await cluster.ensureTopics([missing]), true), {
      message: 'the topic created',
    });
    await waitFor(() => ready(service), { timeoutMs: 60_000, message: 'consuming once the topic exists' });
    expect((await service.get('/health')).body.maintenance.state).toBe('running');
  });

  it('defect 1: with Kafka down at start the service stays up in a start-up state, maintenance inactive, /readyz 503, /messages/send 503 KAFKA_UNAVAILABLE, and consumes once Kafka is back', async () => {
    const name = uniqueName('d1-down');
    await cluster.ensureTopics([name]);
    await stopKafka();
    kafkaDown = true;
    const service = await start(name);

    const sent = await service.post('/messages/send', JSON.stringify({ topic: name, message: 'early' }));
    expect(sent.status).toBe(503);
    expect(sent.body.error.code).toBe('KAFKA_UNAVAILABLE');
    expect(sent.headers.get('retry-after')).not.toBeNull();
    const health = (await service.get('/health')).body;
    expect(['starting', 'joining']).toContain(health.maintenance.state);
    expect(health.maintenance.active).toBe(false);
    expect(health.components.kafka.healthy).toBe(false);
    expect((await service.get('/readyz')).status).toBe(503);

    await bringKafkaBack();
    await waitFor(() => ready(service), { timeoutMs: 90_000, message: 'consuming once Kafka is back' });
  });
});

describe('a join that fails', () => {
  it('defect 2: with KAFKA_SESSION_TIMEOUT below the broker minimum the join is retried, reported in /health, the member report and a metric, and /readyz stays 503', async () => {
    const name = uniqueName('d2-session');
    await cluster.ensureTopics([name]);
    const service = await start(name, { KAFKA_SESSION_TIMEOUT: '5s', KAFKA_HEARTBEAT_INTERVAL: '1s' });
    const startedAt = Date.now() - 1;
    await waitFor(async () => (await joinFailuresSince(service, startedAt)) >= 2, {
      timeoutMs: 90_000,
      message: 'the failing join to be retried',
    });

    expect((await service.get('/readyz')).status).toBe(503);
    const health = (await service.get('/health')).body;
    expect(health.maintenance.state).toBe('joining');
    expect(health.maintenance.active).toBe(false);
    expect(health.components.kafka.healthy).toBe(false);
    expect(health.components.kafka.detail).toMatch(/session timeout/i);
    const raw = await cluster.etcd.get(memberKey(`/maintenance/${name}`, name)).string();
    const report = parseMemberReport(raw ?? '');
    expect(report.ok && report.value.state).toBe('joining');
    expect(report.ok && report.value.lastError).toContain('KAFKA_JOIN_FAILED');
    const metrics = (await service.get('/metrics')).body as string;
    const failures = Number(/^kmaint_consumer_join_failures_total (\d+)/m.exec(metrics)?.[1] ?? 0);
    expect(failures).toBeGreaterThanOrEqual(2);
    expect(await groupMemberCount(name)).toBe(0);
  });

  it('defect 2: a pause window that arrives while the join is retried leaves the service not ready after it, and the join goes on', async () => {
    const name = uniqueName('d2-pause');
    const missing = `${name}-later`;
    const key = `/maintenance/${name}`;
    await cluster.ensureTopics([name]);
    const service = await start(name, { KAFKA_TOPICS: `${name},${missing}` });
    await waitFor(async () => (await joinFailuresSince(service, 0)) >= 1, {
      timeoutMs: 60_000,
      message: 'a failed join',
    });
    await cluster.switchTo(key, '{"enabled":true,"mode":"pause","reason":"d2"}');
    await waitFor(async () => (await service.state()) === 'maintenance', {
      timeoutMs: 60_000,
      message: 'maintenance',
    });
    await cluster.switchTo(key, 'false');
    const off = Date.now();
    // A join attempt after the window proves the service went on trying instead of calling itself done.
    await waitFor(async () => (await joinFailuresSince(service, off)) >= 1, {
      timeoutMs: 60_000,
      message: 'a join attempt after the window',
    });
    expect((await service.get('/readyz')).status).toBe(503);
    expect(await groupMemberCount(name)).toBe(0);

    await cluster.ensureTopics([missing]);
    await waitFor(() => ready(service), { timeoutMs: 60_000, message: 'consuming once the topic exists' });
    expect(await groupMemberCount(name)).toBe(1);
  });
});

describe('the broker stopped while consuming', () => {
  it('defect 6: POST /messages/send answers 503 KAFKA_UNAVAILABLE with Retry-After with the broker stopped', async () => {
    const name = uniqueName('d6-send');
    await cluster.ensureTopics([name]);
    const service = await start(name);
    await waitFor(() => ready(service), { timeoutMs: 60_000, message: 'consuming' });
    expect(
      (await service.post('/messages/send', JSON.stringify({ topic: name, message: 'up' }))).status,
    ).toBe(200);

    await stopKafka();
    kafkaDown = true;
    const asked = Date.now();
    const sent = await service.post('/messages/send', JSON.stringify({ topic: name, message: 'down' }));
    console.log(`POST /messages/send with the broker stopped answered in ${Date.now() - asked} ms`);
    expect(sent.status).toBe(503);
    expect(sent.body.error.code).toBe('KAFKA_UNAVAILABLE');
    expect(sent.headers.get('retry-after')).not.toBeNull();
  });
});

describe('drain-mode maintenance', () => {
  it('defect 10: /health does not say "member of" the group once the member has left it', async () => {
    const name = uniqueName('d10-left');
    await cluster.ensureTopics([name]);
    const service = await start(name);
    await waitFor(() => ready(service), { timeoutMs: 60_000, message: 'consuming' });
    expect((await service.get('/health')).body.components.kafka.detail).toBe(`member of ${name}`);

    await cluster.switchTo(`/maintenance/${name}`, '{"enabled":true,"mode":"drain"}');
    await waitFor(async () => (await service.state()) === 'maintenance', {
      timeoutMs: 60_000,
      message: 'maintenance',
    });
    await waitFor(async () => (await groupMemberCount(name)) === 0, {
      timeoutMs: 30_000,
      message: 'the member gone from the group',
    });
    const kafka = (await service.get('/health')).body.components.kafka;
    expect(kafka.detail).not.toContain('member of');
    expect(kafka.detail).toContain(`left ${name}`);
  });
});
