import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../../test/env/helpers.ts';
import { Cluster } from './cluster.ts';
import { ServiceProcess } from './service-process.ts';

/**
 * POST /messages/send behind MESSAGES_SEND, on the real service process: disabled answers 403, token mode
 * 401 without the right bearer token and produces with it, and the token never reaches the process's
 * output, even at trace level.
 */

const TOKEN = `send-token-${uniqueName('t')}`;
const cluster = new Cluster();
const topic = uniqueName('send-access');
const body = JSON.stringify({ topic, message: 'hello', key: 'k' });
const json = 'application/json';
let guarded: ServiceProcess;
let disabled: ServiceProcess;

const env = (extra: Record<string, string>) => ({
  KAFKA_TOPICS: topic,
  KAFKA_CONSUMER_GROUP: uniqueName('send-access'),
  MAINTENANCE_KEY: `/maintenance/${uniqueName('send-access')}`,
  MEMBER_ID: uniqueName('member'),
  ...extra,
});

beforeAll(async () => {
  await cluster.connect();
  await cluster.ensureTopics([topic], 1);
  [guarded, disabled] = await Promise.all([
    ServiceProcess.start(env({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN: TOKEN, LOG_LEVEL: 'trace' })),
    ServiceProcess.start(env({ MESSAGES_SEND: 'disabled' })),
  ]);
});

afterAll(async () => {
  await Promise.all([guarded?.kill(), disabled?.kill()]);
  await cluster.close();
});

describe('MESSAGES_SEND=token', () => {
  it('answers 401 with WWW-Authenticate and the error shape without a bearer token', async () => {
    const res = await guarded.post('/messages/send', body);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="kmaint"');
    expect(res.body).toEqual({
      error: {
        code: 'UNAUTHORIZED',
        message: 'POST /messages/send needs the header Authorization: Bearer <token>',
      },
    });
  });

  it('answers 401 invalid_token to another token', async () => {
    const res = await guarded.post('/messages/send', body, json, { authorization: `Bearer ${TOKEN}-not` });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="kmaint", error="invalid_token"');
    expect(res.body.error.code).toBe('INVALID_TOKEN');
  });

  it('produces with the token', async () => {
    const res = await guarded.post('/messages/send', body, json, { authorization: `Bearer ${TOKEN}` });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'sent', topic, partition: 0, offset: '0' });
  });

  it('never writes the token to its output, at trace level', () => {
    const output = [...guarded.logs.map((l) => JSON.stringify(l)), ...guarded.stderr].join('\n');
    expect(output).toContain('request rejected');
    expect(output).not.toContain(TOKEN);
  });
});

describe('MESSAGES_SEND=disabled', () => {
  it('answers 403 SEND_DISABLED, with or without a token, and produces nothing', async () => {
    const end = async () => (await cluster.offsets('none', topic))[0]?.end;
    const before = await end();
    for (const headers of [{}, { authorization: `Bearer ${TOKEN}` }] as Record<string, string>[]) {
      const res = await disabled.post('/messages/send', body, json, headers);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('SEND_DISABLED');
    }
    expect(await end()).toBe(before);
  });
});
