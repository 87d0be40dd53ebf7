import { KmaintError } from '@kmaint/common';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appWith, FakeService, unavailable } from './fake-service.ts';

let service: FakeService;
let app: FastifyInstance;

beforeEach(async () => {
  service = new FakeService();
  app = await appWith(service, 4096);
});
afterEach(async () => {
  await app.close();
});

const send = (payload: string | object, contentType = 'application/json') =>
  app.inject({
    method: 'POST',
    url: '/messages/send',
    headers: { 'content-type': contentType },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

describe('health and probes', () => {
  it('reports healthy while running, with topics and component health', async () => {
    const res = await app.inject('/health');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('healthy');
    expect(body.maintenance).toMatchObject({ active: false, state: 'running', desired: false, drain: null });
    expect(body.components.kafka).toEqual({ healthy: true, detail: 'connected' });
    expect(body.topics).toEqual(['test-topic', 'user-events', 'system-logs']);
  });

  it('shows drain progress while draining, still 200', async () => {
    service.state = 'draining';
    service.inFlight = 3;
    service.reason = 'broker upgrade';
    const res = await app.inject('/health');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe('maintenance');
    expect(body.inFlight).toBe(3);
    expect(body.maintenance).toMatchObject({ active: true, state: 'draining', reason: 'broker upgrade' });
    expect(body.maintenance.drain).toMatchObject({
      startedAt: service.since,
      inFlight: 3,
      timeoutMs: 45_000,
    });
  });

  it('/readyz turns 503 as soon as a shutdown begins, before the engine leaves running', async () => {
    service.shuttingDown = true;
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    expect((await app.inject('/health')).statusCode).toBe(200);
  });

  it('says degraded when a component is unhealthy', async () => {
    service.kafkaHealthy = false;
    expect((await app.inject('/health')).json().status).toBe('degraded');
  });

  it.each(['running', 'draining', 'maintenance', 'resuming'] as const)(
    '/livez is 200 in %s',
    async (state) => {
      service.state = state;
      const res = await app.inject('/livez');
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok', state });
    },
  );

  it('/readyz is 200 only while running', async () => {
    expect((await app.inject('/readyz')).statusCode).toBe(200);
    for (const state of ['draining', 'maintenance', 'resuming'] as const) {
      service.state = state;
      const res = await app.inject('/readyz');
      expect(res.statusCode).toBe(503);
      expect(res.json().error).toMatchObject({ code: 'NOT_READY' });
      expect(res.json().error.message).toContain(state);
    }
  });
});

describe('POST /messages/send', () => {
  // GoMaint's Quick Start curl bodies, verbatim.
  const goMaintBodies = [
    '{"topic": "test-topic", "message": "Hello from Kafka!", "key": "test-key"}',
    '{"topic": "test-topic", "message": "Test message 1"}',
    '{"topic": "user-events", "message": "{\\"event\\": \\"user_login\\", \\"user_id\\": \\"user123\\"}"}',
    '{"topic": "system-logs", "message": "{\\"level\\": \\"info\\", \\"message\\": \\"System status check\\"}"}',
  ];

  it.each(goMaintBodies)('accepts the GoMaint body %s', async (body) => {
    const res = await send(body);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'sent', topic: JSON.parse(body).topic, partition: 0 });
    expect(service.sent).toEqual([
      { ...JSON.parse(body), headers: { source: 'api', timestamp: expect.stringMatching(/^\d{4}-/) } },
    ]);
  });

  it('passes key and headers through, the client’s headers winning over GoMaint’s', async () => {
    const res = await send({
      topic: 'test-topic',
      message: 'm',
      key: 'k',
      headers: { source: 'cli', trace: 't1' },
    });
    expect(res.statusCode).toBe(200);
    expect(service.sent[0]).toEqual({
      topic: 'test-topic',
      message: 'm',
      key: 'k',
      headers: { source: 'cli', trace: 't1', timestamp: expect.any(String) },
    });
  });

  const bad: [string, string, string | RegExp, string?][] = [
    ['not JSON', '{"topic": "test-topic", "message": ', 'INVALID_JSON'],
    ['an empty body', '', 'INVALID_JSON'],
    ['a JSON array', '[]', 'INVALID_BODY'],
    ['a JSON string', '"hello"', 'INVALID_BODY'],
    ['no topic', '{"message": "m"}', 'INVALID_BODY', "must have required property 'topic'"],
    ['no message', '{"topic": "test-topic"}', 'INVALID_BODY', "must have required property 'message'"],
    ['a numeric topic', '{"topic": 123, "message": "m"}', 'INVALID_BODY', 'body/topic must be string'],
    ['an object message', '{"topic": "test-topic", "message": {"a": 1}}', 'INVALID_BODY', 'body/message'],
    ['a numeric key', '{"topic": "test-topic", "message": "m", "key": 5}', 'INVALID_BODY', 'body/key'],
    [
      'a non-string header',
      '{"topic": "test-topic", "message": "m", "headers": {"a": 1}}',
      'INVALID_BODY',
      'headers',
    ],
    [
      'an unknown field',
      '{"topic": "test-topic", "message": "m", "partition": 2}',
      'INVALID_BODY',
      'additional',
    ],
    ['an empty topic', '{"topic": "", "message": "m"}', 'INVALID_BODY', 'body/topic'],
    [
      'an unknown topic',
      '{"topic": "orders", "message": "m"}',
      'UNKNOWN_TOPIC',
      'test-topic, user-events, system-logs',
    ],
  ];

  it.each(bad)('answers 400 with the reason for %s', async (_what, payload, code, reason) => {
    const res = await send(payload);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe(code);
    if (reason) expect(res.json().error.message).toContain(reason);
    expect(service.sent).toEqual([]);
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await send({ topic: 'test-topic', message: 'x'.repeat(5000) });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('BODY_TOO_LARGE');
    expect(service.sent).toEqual([]);
  });

  it('answers 415 for a body that is not JSON by content type', async () => {
    const res = await send('topic=test-topic', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 503 with Retry-After when Kafka refuses for now', async () => {
    service.sendError = unavailable();
    const res = await send({ topic: 'test-topic', message: 'm' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json().error.code).toBe('KAFKA_UNAVAILABLE');
  });

  it('hides the details of an unexpected failure behind 500 INTERNAL', async () => {
    service.sendError = new Error('secret internals');
    const res = await send({ topic: 'test-topic', message: 'm' });
    expect(res.statusCode).toBe(500);
    expect(res.json().error).toEqual({ code: 'INTERNAL', message: expect.not.stringContaining('secret') });
  });

  it('keeps the code of a permanent KmaintError', async () => {
    service.sendError = new KmaintError('MESSAGE_TOO_LARGE', 'the broker refused the size');
    const res = await send({ topic: 'test-topic', message: 'm' });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('MESSAGE_TOO_LARGE');
  });
});

describe('in maintenance', () => {
  beforeEach(() => {
    service.state = 'maintenance';
    service.reason = 'broker upgrade';
  });

  it('refuses sends with 503, Retry-After and the reason, producing nothing', async () => {
    const res = await send({ topic: 'test-topic', message: 'm' });
    expect(res.statusCode).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(res.json().error.code).toBe('MAINTENANCE');
    expect(res.json().error.message).toContain('broker upgrade');
    expect(service.sent).toEqual([]);
  });

  it('answers stats with 503 but still with the numbers', async () => {
    const res = await app.inject('/messages/stats');
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    const body = res.json();
    expect(body.error.code).toBe('MAINTENANCE');
    expect(body.kafka).toMatchObject({ received: 7, processed: 5, inFlight: 0 });
    expect(body.kafka.partitions[0]).toEqual({
      topic: 'test-topic',
      partition: 0,
      committedOffset: '5',
      endOffset: '7',
      lag: 2,
    });
  });

  it('answers topics/info with 503', async () => {
    const res = await app.inject('/topics/info');
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('MAINTENANCE');
  });

  it('keeps /health, /livez and /metrics at 200', async () => {
    for (const url of ['/health', '/livez', '/metrics']) expect((await app.inject(url)).statusCode).toBe(200);
  });

  it('says so while shutting down', async () => {
    service.state = 'draining';
    service.shuttingDown = true;
    const res = await app.inject('/topics/info');
    expect(res.json().error.message).toContain('shutting down');
  });
});

describe('the rest', () => {
  it('serves stats with GoMaint’s "kafka" key', async () => {
    const res = await app.inject('/messages/stats');
    expect(res.statusCode).toBe(200);
    expect(res.json().kafka).toMatchObject({ received: 7, processed: 5, failed: 1, retried: 1, commits: 3 });
    expect(res.json().kafka.errors).toHaveLength(1);
  });

  it('serves topic metadata', async () => {
    const res = await app.inject('/topics/info');
    expect(res.statusCode).toBe(200);
    expect(res.json().topics[0].partitions[0]).toEqual({
      partition: 0,
      leader: 1,
      replicas: [1],
      isr: [1],
      earliestOffset: '0',
      latestOffset: '7',
    });
  });

  it('serves metrics as Prometheus text', async () => {
    const res = await app.inject('/metrics');
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.body).toBe('up 1\n');
  });

  it('answers unknown routes with the error shape', async () => {
    const res = await app.inject('/nope?x=1');
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /nope' } });
  });

  it('serves an OpenAPI document with a schema for every route', async () => {
    const res = await app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe('3.0.3');
    const routes = Object.entries(doc.paths as Record<string, Record<string, { responses: object }>>).flatMap(
      ([path, ops]) =>
        Object.entries(ops).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as const),
    );
    expect(routes.map(([r]) => r).sort()).toEqual([
      'GET /health',
      'GET /livez',
      'GET /messages/stats',
      'GET /metrics',
      'GET /readyz',
      'GET /topics/info',
      'POST /messages/send',
    ]);
    for (const [, op] of routes) expect(Object.keys(op.responses)).toContain('200');
    expect(doc.paths['/messages/send'].post.requestBody.content['application/json'].schema.required).toEqual([
      'topic',
      'message',
    ]);
  });
});
