import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, startKafka, stopEtcd, stopKafka } from '../../../../test/env/control.ts';
import { uniqueName, waitFor } from '../../../../test/env/helpers.ts';
import { Cluster } from './cluster.ts';
import { ServiceProcess } from './service-process.ts';

/**
 * The API while a dependency is away — the very situation maintenance windows exist for (a broker
 * upgrade) and the one etcd outages create: /health keeps answering and says what is wrong, nothing hangs.
 */

const cluster = new Cluster();
const name = uniqueName('api-outage');
const [topic, group, key] = [name, name, `/maintenance/${name}`];
let service: ServiceProcess;
const down = { kafka: false, etcd: false };

beforeAll(async () => {
  await cluster.connect();
  await cluster.ensureTopics([topic]);
  service = await ServiceProcess.start({
    KAFKA_TOPICS: topic,
    KAFKA_CONSUMER_GROUP: group,
    MAINTENANCE_KEY: key,
    MEMBER_ID: name,
  });
  await waitFor(async () => (await service.get('/readyz')).status === 200, {
    timeoutMs: 60_000,
    message: 'the service to consume',
  });
});

afterAll(async () => {
  // The servers are shared by the whole run: bring back whatever a failed test left stopped.
  if (down.kafka) await startKafka();
  if (down.etcd) await startEtcd();
  await service?.kill();
  await cluster.close();
});

describe('Kafka stopped during maintenance (a broker upgrade)', () => {
  it('keeps answering: /health 200, stats 503 with the counters, topics 503, metrics 200', async () => {
    await cluster.produce(topic, 30);
    await waitFor(() => cluster.allCommitted(group, topic), {
      timeoutMs: 60_000,
      message: 'the first 30 committed',
    });
    await cluster.switchTo(key, '{"enabled":true,"mode":"drain","reason":"kafka upgrade"}');
    await waitFor(async () => (await service.state()) === 'maintenance', {
      timeoutMs: 60_000,
      message: 'maintenance',
    });

    await stopKafka();
    down.kafka = true;
    const health = await service.get('/health');
    expect(health.status).toBe(200);
    expect(health.body.maintenance).toMatchObject({ state: 'maintenance', reason: 'kafka upgrade' });

    const asked = Date.now();
    const stats = await service.get('/messages/stats');
    console.log(`/messages/stats with Kafka stopped answered in ${Date.now() - asked} ms`);
    expect(stats.status).toBe(503);
    expect(stats.body.error.code).toBe('MAINTENANCE');
    expect(stats.body.kafka.processed).toBeGreaterThanOrEqual(30);
    expect(stats.body.kafka.inFlight).toBe(0);

    expect((await service.get('/topics/info')).status).toBe(503);
    expect((await service.get('/livez')).status).toBe(200);
    expect((await service.get('/readyz')).status).toBe(503);
    const metrics = await service.get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('kmaint_maintenance_state{state="maintenance"} 1');

    await startKafka();
    down.kafka = false;
    await cluster.switchTo(key, 'false');
    await waitFor(async () => (await service.get('/readyz')).status === 200, {
      timeoutMs: 120_000,
      message: 'consuming again after the upgrade',
    });
    await cluster.produce(topic, 30, 'after');
    await waitFor(() => cluster.allCommitted(group, topic), {
      timeoutMs: 60_000,
      message: 'the messages produced after the upgrade committed',
    });
    const after = await service.get('/messages/stats');
    expect(after.status).toBe(200);
    expect(after.body.kafka.partitions.every((p: { lag: number }) => p.lag === 0)).toBe(true);
  });
});

describe('etcd stopped while consuming', () => {
  it('/health says degraded with etcd unhealthy, keeps consuming (ETCD_UNAVAILABLE=keep), recovers', async () => {
    await stopEtcd();
    down.etcd = true;
    const degraded = await waitFor(
      async () => {
        const res = await service.get('/health');
        return res.body.components.etcd.healthy === false ? res : undefined;
      },
      { timeoutMs: 60_000, message: '/health to report etcd unhealthy' },
    );
    expect(degraded.status).toBe(200);
    expect(degraded.body.status).toBe('degraded');
    expect((await service.get('/readyz')).status).toBe(200);
    expect((await service.get('/metrics')).body).toContain('kmaint_component_up{component="etcd"} 0');

    await startEtcd();
    down.etcd = false;
    await waitFor(async () => (await service.get('/health')).body.status === 'healthy', {
      timeoutMs: 60_000,
      message: '/health healthy again once etcd is back',
    });
  });
});
