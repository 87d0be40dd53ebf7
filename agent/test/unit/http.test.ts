import { ok } from '@kmaint/common';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AppSession } from '../../src/core/session.ts';
import { buildServer, type AgentApi } from '../../src/http/server.ts';

/** The HTTP layer over a real session, without etcd: what curl, fetch and a Java client send is understood. */
function server(known = true) {
  const session = new AppSession(
    { id: 'a', pod: null, appTimeoutMs: 10_000, drainTimeoutMs: 45_000 },
    Date.now(),
  );
  if (known)
    session.desire(
      { maintenance: false, mode: 'drain', reason: null, window: null, drainTimeoutMs: null },
      Date.now(),
    );
  const status = () => ({
    ready: session.ready(),
    etcdHealthy: true,
    appResponding: session.responding,
    appState: session.appState,
    generation: session.generation,
  });
  const agent: AgentApi = {
    poll: async () => session.view(),
    report: (r) => {
      const result = session.report(r, Date.now());
      return result.ok ? ok(status()) : result;
    },
    status,
  };
  return buildServer(agent, new Registry(), pino({ level: 'silent' }));
}

describe('the agent’s HTTP server', () => {
  it.each([
    ['application/json', 'application/json'],
    ['text/plain (fetch with a string)', 'text/plain;charset=UTF-8'],
    ['form data (curl -d)', 'application/x-www-form-urlencoded'],
  ])('reads a state report sent as %s', async (_label, type) => {
    const app = server();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/state',
      headers: { 'content-type': type },
      payload: '{"state":"running","inFlight":0,"generation":1}',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ready: true, generation: 1 });
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });

  it('answers 400 with what is wrong for a body that is not JSON', async () => {
    const res = await server().inject({ method: 'POST', url: '/v1/state', payload: '{"state":' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: expect.any(String) });
  });

  it('answers 503 with Retry-After before the switch was read', async () => {
    const res = await server(false).inject({ url: '/v1/desired' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
  });

  it('answers the app protocol on localhost only', async () => {
    const res = await server().inject({ url: '/v1/desired', remoteAddress: '10.1.2.3' });
    expect(res.statusCode).toBe(403);
    expect((await server().inject({ url: '/readyz', remoteAddress: '10.1.2.3' })).statusCode).toBe(503);
  });

  it('names an unknown route', async () => {
    const res = await server().inject({ url: '/v2/desired' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ error: 'no route GET /v2/desired' });
  });
});
