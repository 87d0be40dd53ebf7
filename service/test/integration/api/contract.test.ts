import type { KafkaMessage } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../../test/env/helpers.ts';
import { Cluster } from './cluster.ts';
import { ServiceProcess } from './service-process.ts';

/**
 * The GoMaint-compatible HTTP contract, against the real service process on the real Kafka and etcd, in and out
 * of maintenance. The service consumes GoMaint's topics, so its Quick Start's curl bodies are used verbatim.
 */

const GOMAINT_TOPICS = ['test-topic', 'user-events', 'system-logs'];
// GoMaint's Quick Start curl -d bodies, byte for byte.
const GOMAINT_BODIES = [
  '{"topic": "test-topic", "message": "Hello from Kafka!", "key": "test-key"}',
  '{"topic": "test-topic", "message": "Test message 1"}',
  '{"topic": "user-events", "message": "{\\"event\\": \\"user_login\\", \\"user_id\\": \\"user123\\"}"}',
  '{"topic": "system-logs", "message": "{\\"level\\": \\"info\\", \\"message\\": \\"System status check\\"}"}',
];

const cluster = new Cluster();
const group = uniqueName('api-contract');
const key = `/maintenance/${uniqueName('api-contract')}`;
let service: ServiceProcess;

beforeAll(async () => {
  await cluster.connect();
  await cluster.ensureTopics(GOMAINT_TOPICS);
  service = await ServiceProcess.start({
    KAFKA_CONSUMER_GROUP: group,
    MAINTENANCE_KEY: key,
    MEMBER_ID: uniqueName('member'),
    KAFKA_OFFSET_INITIAL: 'newest',
    // GoMaint's form (host:port); the other API tests pass the URL form.
    ETCD_ENDPOINTS: inject('etcdEndpoints').replace(/^https?:\/\//, ''),
  });
  await waitFor(async () => (await service.get('/readyz')).status === 200, {
    timeoutMs: 60_000,
    message: 'the service to consume (/readyz 200)',
  });
});

afterAll(async () => {
  await service?.kill();
  await cluster.close();
});

describe('out of maintenance', () => {
  it('GET /health: healthy, running, Kafka and etcd healthy, the GoMaint topics', async () => {
    const res = await waitFor(
      async () => {
        const r = await service.get('/health');
        return r.body.status === 'healthy' ? r : undefined;
      },
      { message: '/health to say healthy' },
    );
    expect(res.status).toBe(200);
    expect(res.body.maintenance).toMatchObject({ active: false, state: 'running', desired: false });
    expect(res.body.components.kafka.healthy).toBe(true);
    expect(res.body.components.etcd.healthy).toBe(true);
    expect(res.body.topics).toEqual(GOMAINT_TOPICS);
    expect(res.body.consumerGroup).toBe(group);
    expect(res.body.maintenanceKey).toBe(key);
  });

  it('GET /topics/info: every GoMaint topic with leader, replicas, ISR and offsets', async () => {
    const res = await service.get('/topics/info');
    expect(res.status).toBe(200);
    expect(res.body.topics.map((t: { name: string }) => t.name)).toEqual(GOMAINT_TOPICS);
    for (const topic of res.body.topics) {
      expect(topic.partitions.length).toBeGreaterThan(0);
      for (const p of topic.partitions) {
        expect(p.leader).toBeGreaterThanOrEqual(0);
        expect(p.replicas).toContain(p.leader);
        expect(p.isr).toContain(p.leader);
        expect(BigInt(p.latestOffset)).toBeGreaterThanOrEqual(BigInt(p.earliestOffset));
      }
    }
  });

  it('POST /messages/send with the GoMaint bodies: produced, then processed and committed', async () => {
    const before = (await service.get('/messages/stats')).body.kafka;
    const sent: { topic: string; partition: number; offset: string }[] = [];
    for (const body of GOMAINT_BODIES) {
      const res = await service.post('/messages/send', body);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ status: 'sent', topic: JSON.parse(body).topic });
      expect(res.body.offset).toMatch(/^\d+$/);
      sent.push(res.body);
    }
    const stats = await waitFor(
      async () => {
        const s = (await service.get('/messages/stats')).body.kafka;
        const committed = sent.every((m) =>
          s.partitions.some(
            (p: { topic: string; partition: number; committedOffset: string | null }) =>
              p.topic === m.topic &&
              p.partition === m.partition &&
              p.committedOffset !== null &&
              BigInt(p.committedOffset) > BigInt(m.offset),
          ),
        );
        return committed ? s : undefined;
      },
      { timeoutMs: 30_000, message: 'the sent messages to be processed and committed' },
    );
    expect(stats.processed - before.processed).toBeGreaterThanOrEqual(GOMAINT_BODIES.length);
    expect(stats.received - before.received).toBeGreaterThanOrEqual(GOMAINT_BODIES.length);
    expect(stats.inFlight).toBeGreaterThanOrEqual(0);
    for (const p of stats.partitions) {
      expect(p.lag).toBe(Number(BigInt(p.endOffset) - BigInt(p.committedOffset ?? '0')));
    }
  });

  it('POST /messages/send puts key, value and headers (with the GoMaint tracking headers) on the record', async () => {
    const body = {
      topic: 'user-events',
      message: 'with headers',
      key: 'user123',
      headers: { 'x-trace': 't-1' },
    };
    const res = await service.post('/messages/send', JSON.stringify(body));
    expect(res.status).toBe(200);
    const consumer = cluster.kafka.consumer({ groupId: uniqueName('api-reader') });
    let record: KafkaMessage | undefined;
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'user-events', fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message }) => {
          if (partition === res.body.partition && message.offset === res.body.offset) record = message;
        },
      });
      await waitFor(() => record, { timeoutMs: 60_000, message: 'the sent record read back from Kafka' });
    } finally {
      await consumer.disconnect();
    }
    const headers = Object.fromEntries(Object.entries(record?.headers ?? {}).map(([k, v]) => [k, String(v)]));
    expect(record?.key?.toString()).toBe('user123');
    expect(record?.value?.toString()).toBe('with headers');
    expect(headers).toEqual({
      'x-trace': 't-1',
      source: 'api',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
  });

  it('GET /messages/stats: the GoMaint "kafka" key with counters, partitions and errors', async () => {
    const res = await service.get('/messages/stats');
    expect(res.status).toBe(200);
    expect(Object.keys(res.body.kafka).sort()).toEqual(
      [
        'commits',
        'deadLettered',
        'errors',
        'failed',
        'inFlight',
        'partitions',
        'processed',
        'received',
        'retried',
      ].sort(),
    );
    expect(Array.isArray(res.body.kafka.errors)).toBe(true);
  });

  const tooLarge = JSON.stringify({ topic: 'test-topic', message: 'x'.repeat(1024 * 1024 + 1) });
  const badBodies: [string, string, string, number, string, string?][] = [
    ['not JSON', '{"topic": "test-topic", "message": ', 'application/json', 400, 'INVALID_JSON'],
    ['empty', '', 'application/json', 400, 'INVALID_JSON'],
    ['a JSON array', '[{"topic": "test-topic"}]', 'application/json', 400, 'INVALID_BODY'],
    ['missing topic', '{"message": "Hello"}', 'application/json', 400, 'INVALID_BODY', 'topic'],
    ['missing message', '{"topic": "test-topic"}', 'application/json', 400, 'INVALID_BODY', 'message'],
    ['numeric topic', '{"topic": 1, "message": "m"}', 'application/json', 400, 'INVALID_BODY', 'body/topic'],
    [
      'object message',
      '{"topic": "test-topic", "message": {}}',
      'application/json',
      400,
      'INVALID_BODY',
      'body/message',
    ],
    [
      'boolean key',
      '{"topic": "test-topic", "message": "m", "key": true}',
      'application/json',
      400,
      'INVALID_BODY',
      'body/key',
    ],
    [
      'unknown topic',
      '{"topic": "orders", "message": "m"}',
      'application/json',
      400,
      'UNKNOWN_TOPIC',
      'orders',
    ],
    ['too large', tooLarge, 'application/json', 413, 'BODY_TOO_LARGE'],
    [
      'form encoded',
      'topic=test-topic&message=m',
      'application/x-www-form-urlencoded',
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
  ];

  it.each(badBodies)(
    'POST /messages/send %s: 4xx with its reason, nothing produced',
    async (_what, body, type, status, code, reason) => {
      const before = await service.get('/topics/info');
      const res = await service.post('/messages/send', body, type);
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.message.length).toBeGreaterThan(0);
      if (reason) expect(res.body.error.message).toContain(reason);
      expect((await service.get('/topics/info')).body).toEqual(before.body);
    },
  );

  it('GET /livez, /readyz, /metrics and /openapi.json answer', async () => {
    expect((await service.get('/livez')).body).toEqual({ status: 'ok', state: 'running' });
    expect((await service.get('/readyz')).body).toEqual({ status: 'ready', state: 'running' });
    const metrics = await service.get('/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.body).toContain('kmaint_maintenance_state{state="running"} 1');
    const doc = await service.get('/openapi.json');
    expect(Object.keys(doc.body.paths)).toEqual(
      expect.arrayContaining(['/health', '/messages/send', '/messages/stats', '/topics/info', '/readyz']),
    );
  });
});

describe('in maintenance', () => {
  beforeAll(async () => {
    await cluster.switchTo(key, '{"enabled":true,"mode":"drain","reason":"api contract test"}');
    await waitFor(async () => (await service.state()) === 'maintenance', {
      timeoutMs: 60_000,
      message: 'the service to reach maintenance',
    });
  });

  it('GET /health: 200 with state, mode, reason and since', async () => {
    const res = await service.get('/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('maintenance');
    expect(res.body.maintenance).toMatchObject({
      active: true,
      state: 'maintenance',
      desired: true,
      mode: 'drain',
      reason: 'api contract test',
      drain: null,
    });
    expect(Date.parse(res.body.maintenance.since)).not.toBeNaN();
    expect(res.body.maintenance.lastDrain).toMatchObject({ mode: 'drain', timedOut: false, leftInFlight: 0 });
  });

  it('POST /messages/send with each GoMaint body: 503, Retry-After, JSON reason', async () => {
    for (const body of GOMAINT_BODIES) {
      const res = await service.post('/messages/send', body);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.body.error.code).toBe('MAINTENANCE');
      expect(res.body.error.message).toContain('api contract test');
    }
  });

  it('GET /messages/stats: 503 that still carries the numbers', async () => {
    const res = await service.get('/messages/stats');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).not.toBeNull();
    expect(res.body.error.code).toBe('MAINTENANCE');
    expect(res.body.kafka.processed).toBeGreaterThanOrEqual(GOMAINT_BODIES.length);
    expect(res.body.kafka.inFlight).toBe(0);
    expect(res.body.maintenance).toEqual({ active: true, state: 'maintenance' });
  });

  it('GET /topics/info: 503 with Retry-After', async () => {
    const res = await service.get('/topics/info');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).not.toBeNull();
    expect(res.body.error.code).toBe('MAINTENANCE');
  });

  it('/livez 200, /readyz 503, /metrics 200', async () => {
    expect((await service.get('/livez')).status).toBe(200);
    const ready = await service.get('/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body.error.code).toBe('NOT_READY');
    expect((await service.get('/metrics')).body).toContain('kmaint_maintenance_state{state="maintenance"} 1');
  });

  it('answers bad bodies with the maintenance 503 too, never a 500', async () => {
    for (const body of ['{"topic": ', '{"topic": "orders", "message": "m"}', '[]']) {
      const res = await service.post('/messages/send', body);
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('MAINTENANCE');
    }
  });

  it('serves again once the switch is off', async () => {
    await cluster.switchTo(key, 'false');
    await waitFor(async () => (await service.get('/readyz')).status === 200, {
      timeoutMs: 60_000,
      message: '/readyz 200 after maintenance',
    });
    const res = await service.post('/messages/send', GOMAINT_BODIES[0] as string);
    expect(res.status).toBe(200);
    expect((await service.get('/topics/info')).status).toBe(200);
    expect((await service.get('/messages/stats')).status).toBe(200);
  });
});
