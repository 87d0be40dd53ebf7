import { checkMemberReport } from '@kmaint/common/schemas';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import {
  etcdClient,
  memberReport,
  run,
  startAgent,
  stop,
  type AgentProcess,
  type Running,
} from './support.ts';

/**
 * The agent's protocol, end to end against the real etcd: the test plays the app over HTTP and the
 * operator in etcd, and checks every transition and timeout docs/protocol.md promises. The last part runs
 * an app-side client instead (KMAINT_AGENT_CLIENT, a command that gets KMAINT_AGENT_URL; by default the
 * shell client in agent/clients/), so any client can be checked against the agent.
 */

const etcd = etcdClient();
const running: Running[] = [];

afterEach(async () => {
  for (const p of running.splice(0)) await stop(p);
});
afterAll(() => etcd.close());

async function agent(
  env: Record<string, string> = {},
): Promise<{ a: AgentProcess; key: string; id: string }> {
  const key = `/maintenance/${uniqueName('agent')}`;
  const id = uniqueName('member');
  const a = await startAgent({ MAINTENANCE_KEY: key, MEMBER_ID: id, POD_NAME: id, ...env });
  running.push(a);
  return { a, key, id };
}

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function report(key: string, id: string): Promise<Record<string, unknown> | null> {
  const raw = await memberReport(etcd, key, id);
  if (raw === null) return null;
  expect(checkMemberReport(raw)).toEqual({ valid: true });
  return JSON.parse(raw) as Record<string, unknown>;
}

const reportIs = (key: string, id: string, fields: Record<string, unknown>) => async () => {
  const r = await report(key, id);
  return r !== null && Object.entries(fields).every(([k, v]) => r[k] === v) ? r : null;
};

describe('the agent protocol (node agent/src/main.ts, real etcd)', () => {
  it('walks a whole window: readiness fails when it opens and returns only once the app resumed', async () => {
    const { a, key, id } = await agent();
    // No key is off: generation 1, consume. Not ready and no report until the app speaks.
    const first = await waitFor(async () => {
      const r = await get(`${a.url}/v1/desired`);
      return r.status === 200 ? r.body : null;
    });
    expect(first).toEqual({
      v: 1,
      generation: 1,
      maintenance: false,
      mode: 'drain',
      reason: null,
      window: null,
      until: null,
      drainTimeoutSeconds: null,
    });
    expect((await get(`${a.url}/readyz`)).status).toBe(503);
    expect(await report(key, id)).toBeNull();

    expect(await post(`${a.url}/v1/state`, { state: 'running', inFlight: 3, generation: 1 })).toMatchObject({
      status: 200,
      body: { ready: true, generation: 1 },
    });
    expect((await get(`${a.url}/readyz`)).status).toBe(200);
    await waitFor(reportIs(key, id, { v: 1, state: 'running', inFlight: 3, appResponding: true, pod: id }));

    // A held poll answers as soon as the window opens; readiness has failed by then.
    const held = get(`${a.url}/v1/desired?after=1&wait=30s`);
    await etcd
      .put(key)
      .value(
        '{"enabled":true,"mode":"drain","reason":"broker upgrade","window":"apps/upgrade","drainTimeoutSeconds":20}',
      );
    const opened = await held;
    expect(opened).toMatchObject({
      status: 200,
      body: {
        generation: 2,
        maintenance: true,
        mode: 'drain',
        reason: 'broker upgrade',
        window: 'apps/upgrade',
      },
    });
    expect(opened.body['drainTimeoutSeconds']).toBe(20);
    expect((await get(`${a.url}/readyz`)).status).toBe(503);

    await post(`${a.url}/v1/state`, { state: 'draining', inFlight: 2, generation: 2 });
    await waitFor(reportIs(key, id, { state: 'draining', inFlight: 2, window: 'apps/upgrade' }));
    await post(`${a.url}/v1/state`, { state: 'maintenance', inFlight: 0, generation: 2 });
    const drained = await waitFor(reportIs(key, id, { state: 'maintenance', inFlight: 0 }));
    expect(drained['drainedAt']).toEqual(expect.any(String));
    expect((await get(`${a.url}/readyz`)).status).toBe(503);

    const closed = get(`${a.url}/v1/desired?after=2&wait=30s`);
    await etcd.delete().key(key);
    expect((await closed).body).toMatchObject({ generation: 3, maintenance: false });
    expect((await get(`${a.url}/readyz`)).status).toBe(503);
    await post(`${a.url}/v1/state`, { state: 'resuming', inFlight: 0, generation: 3 });
    expect((await get(`${a.url}/readyz`)).status).toBe(503);
    // "running" for an older generation does not confirm this resume.
    await post(`${a.url}/v1/state`, { state: 'running', inFlight: 0, generation: 2 });
    expect((await get(`${a.url}/readyz`)).status).toBe(503);
    await post(`${a.url}/v1/state`, { state: 'running', inFlight: 0, generation: 3 });
    expect((await get(`${a.url}/readyz`)).status).toBe(200);
    await waitFor(reportIs(key, id, { state: 'running', window: null }));

    // GoMaint's plain words (true/false, on/off, ...) are switch values too.
    await etcd.put(key).value('on');
    expect((await get(`${a.url}/v1/desired?after=3&wait=30s`)).body).toMatchObject({
      generation: 4,
      maintenance: true,
      mode: 'drain',
    });
    expect((await get(`${a.url}/readyz`)).status).toBe(503);
  });

  it('a poll with nothing new answers with the same generation when its wait is up', async () => {
    const { a } = await agent();
    await waitFor(async () => (await get(`${a.url}/v1/desired`)).status === 200);
    expect(await get(`${a.url}/v1/desired?after=1&wait=200ms`)).toMatchObject({
      status: 200,
      body: { generation: 1, maintenance: false },
    });
  });

  it('answers 400 saying what is wrong, and changes nothing', async () => {
    const { a, key, id } = await agent();
    await waitFor(async () => (await get(`${a.url}/v1/desired`)).status === 200);
    const cases: [unknown, RegExp][] = [
      [{ state: 'paused', generation: 1 }, /"state" must be one of/],
      [{ state: 'running', inFlight: -2, generation: 1 }, /"inFlight"/],
      [{ state: 'running' }, /"generation"/],
      [{ state: 'running', generation: 9 }, /newer than the agent's 1/],
      [{ state: 'maintenance', inFlight: 4, generation: 1 }, /inFlight must be 0/],
    ];
    for (const [body, error] of cases) {
      expect(await post(`${a.url}/v1/state`, body)).toEqual({
        status: 400,
        body: { error: expect.stringMatching(error) },
      });
    }
    const res = await fetch(`${a.url}/v1/state`, { method: 'POST', body: '{"state":' });
    expect(res.status).toBe(400);
    expect(await get(`${a.url}/v1/desired?after=x`)).toMatchObject({
      status: 400,
      body: { error: /"after"/ },
    });
    expect(await get(`${a.url}/v1/desired?after=1&wait=5m`)).toMatchObject({
      status: 400,
      body: { error: /at most 60s/ },
    });
    expect((await get(`${a.url}/readyz`)).status).toBe(503);
    expect(await report(key, id)).toBeNull();
  });

  it('says in its report and its log when the app stops polling, and when it is back', async () => {
    const { a, key, id } = await agent({ APP_TIMEOUT: '2s' });
    await waitFor(async () => (await get(`${a.url}/v1/desired`)).status === 200);
    await post(`${a.url}/v1/state`, { state: 'running', inFlight: 0, generation: 1 });
    expect((await get(`${a.url}/readyz`)).status).toBe(200);

    const silent = await waitFor(reportIs(key, id, { appResponding: false }), { timeoutMs: 15_000 });
    expect(silent['lastError']).toMatch(/has not polled or reported since/);
    expect(silent['appLastSeen']).toEqual(expect.any(String));
    expect((await get(`${a.url}/readyz`)).status).toBe(503);
    expect(a.output.some((l) => l.includes('the app stopped polling and reporting'))).toBe(true);

    await get(`${a.url}/v1/desired`);
    await waitFor(reportIs(key, id, { appResponding: true, lastError: null }));
    expect((await get(`${a.url}/readyz`)).status).toBe(200);
  });

  it('says when the app has not drained within the window’s drain timeout plus the app timeout', async () => {
    const { a, key, id } = await agent({ APP_TIMEOUT: '2s' });
    await waitFor(async () => (await get(`${a.url}/v1/desired`)).status === 200);
    await post(`${a.url}/v1/state`, { state: 'running', inFlight: 0, generation: 1 });
    await etcd.put(key).value('{"enabled":true,"drainTimeoutSeconds":1}');
    await waitFor(async () => (await get(`${a.url}/v1/desired`)).body['generation'] === 2);
    await post(`${a.url}/v1/state`, { state: 'draining', inFlight: 7, generation: 2 });
    // Keep talking, so only the drain is late.
    const overdue = await waitFor(
      async () => {
        await post(`${a.url}/v1/state`, { state: 'draining', inFlight: 7, generation: 2 });
        const r = await report(key, id);
        return typeof r?.['lastError'] === 'string' ? r : null;
      },
      { timeoutMs: 15_000 },
    );
    expect(overdue).toMatchObject({
      state: 'draining',
      appResponding: true,
      lastError: expect.stringMatching(/not drained within 3s/),
    });
    expect(a.output.some((l) => l.includes('the app has not drained in time'))).toBe(true);
  });

  it('removes its report when stopped (the lease is revoked) and exits 0', async () => {
    const { a, key, id } = await agent();
    await waitFor(async () => (await get(`${a.url}/v1/desired`)).status === 200);
    await post(`${a.url}/v1/state`, { state: 'running', inFlight: 0, generation: 1 });
    await waitFor(reportIs(key, id, { state: 'running' }));
    expect(await stop(a)).toBe(0);
    expect(await memberReport(etcd, key, id)).toBeNull();
  });
});

describe('an agent client against the agent (KMAINT_AGENT_CLIENT, default agent/clients/kmaint-client.sh)', () => {
  it('reports running, drains to maintenance on a window, resumes to running after it', async () => {
    const { a, key, id } = await agent();
    const command = process.env['KMAINT_AGENT_CLIENT'] ?? 'bash agent/clients/kmaint-client.sh';
    const client = run('bash', ['-c', `exec ${command}`], { KMAINT_AGENT_URL: a.url });
    running.push(client);
    const output = () => `client output:\n${client.output.join('\n')}`;

    await waitFor(async () => (await get(`${a.url}/readyz`)).status === 200, {
      message: `ready; ${output()}`,
    });
    await waitFor(reportIs(key, id, { state: 'running' }));
    await etcd.put(key).value('{"enabled":true,"mode":"drain","window":"apps/conformance"}');
    await waitFor(reportIs(key, id, { state: 'maintenance', inFlight: 0, window: 'apps/conformance' }), {
      message: `drained; ${output()}`,
    });
    expect((await get(`${a.url}/readyz`)).status).toBe(503);
    await etcd.put(key).value('false');
    await waitFor(async () => (await get(`${a.url}/readyz`)).status === 200, {
      message: `resumed; ${output()}`,
    });
    await waitFor(reportIs(key, id, { state: 'running', window: null }));
  });
});
