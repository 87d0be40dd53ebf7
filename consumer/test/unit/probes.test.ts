import { createServer, type Server } from 'node:http';
import { fastify } from 'fastify';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConsumerHealth } from '../../src/consumer.ts';
import { probesPlugin } from '../../src/http/fastify.ts';
import { probeHandler } from '../../src/http/node.ts';

function fakeConsumer(health: Partial<ConsumerHealth>) {
  const registry = new Registry();
  new Counter({ name: 'kmaint_test_total', help: 'a test counter', registers: [registry] }).inc();
  return {
    registry,
    health: () =>
      ({
        state: 'running',
        since: '2026-12-01T00:00:00.000Z',
        live: true,
        ready: true,
        ...health,
      }) as ConsumerHealth,
  };
}

let server: Server | null = null;
afterEach(() => {
  server?.close();
  server = null;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

describe('the node:http probe handler', () => {
  it('answers /livez, /readyz and /metrics while consuming', async () => {
    const url = await serve(probeHandler(fakeConsumer({})));
    const live = await fetch(`${url}/livez`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: 'ok', state: 'running' });
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ status: 'ready', state: 'running' });
    const metrics = await fetch(`${url}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await metrics.text()).toMatch(/^kmaint_test_total 1$/m);
  });

  it('is not ready outside running, and says why', async () => {
    const url = await serve(probeHandler(fakeConsumer({ state: 'draining', ready: false })));
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({
      error: { code: 'NOT_READY', message: 'not consuming: state draining since 2026-12-01T00:00:00.000Z' },
    });
    expect((await fetch(`${url}/livez`)).status).toBe(200);
  });

  it('hands other paths to next, or answers 404 without one', async () => {
    const handler = probeHandler(fakeConsumer({}));
    const url = await serve((req, res) =>
      handler(req, res, () => {
        res.writeHead(200).end('app');
      }),
    );
    expect(await (await fetch(`${url}/orders`)).text()).toBe('app');
    server?.close();
    const bare = await serve(probeHandler(fakeConsumer({})));
    expect((await fetch(`${bare}/orders`)).status).toBe(404);
  });
});

describe('the fastify probe plugin', () => {
  it('registers the same three routes', async () => {
    const app = fastify();
    await app.register(probesPlugin, { consumer: fakeConsumer({ state: 'maintenance', ready: false }) });
    expect((await app.inject('/livez')).statusCode).toBe(200);
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ error: { code: 'NOT_READY' } });
    expect((await app.inject('/metrics')).body).toMatch(/^kmaint_test_total 1$/m);
    await app.close();
  });
});
