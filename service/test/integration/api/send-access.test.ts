import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../../test/env/helpers.ts';
import { Cluster } from './cluster.ts';
import { ServiceProcess } from './service-process.ts';

/**
 * POST /messages/send behind MESSAGES_SEND, on the real service process: disabled answers 403, token mode
 * 401 without the right bearer token and produces with it, with the token in MESSAGES_SEND_TOKEN or in
 * the file MESSAGES_SEND_TOKEN_FILE (rotated under the running process), and no token ever reaches the
 * process's output, even at trace level.
 */

const TOKEN = `send-token-${uniqueName('t')}`;
const cluster = new Cluster();
const topic = uniqueName('send-access');
const body = JSON.stringify({ topic, message: 'hello', key: 'k' });
const json = 'application/json';
let guarded: ServiceProcess;
let disabled: ServiceProcess;
let fromFile: ServiceProcess;
const fileTopic = uniqueName('send-access-file');
const tokenDir = mkdtempSync(join(tmpdir(), 'kmaint-send-token-'));
const tokenFile = join(tokenDir, 'token');
const ROTATED = `rotated-token-${uniqueName('t')}`;

/** Replaces the token file as the kubelet updates a mounted Secret: a new file renamed over the old. */
function writeToken(token: string): void {
  writeFileSync(`${tokenFile}.new`, `${token}\n`);
  renameSync(`${tokenFile}.new`, tokenFile);
}

const env = (extra: Record<string, string>) => ({
  KAFKA_TOPICS: topic,
  KAFKA_CONSUMER_GROUP: uniqueName('send-access'),
  MAINTENANCE_KEY: `/maintenance/${uniqueName('send-access')}`,
  MEMBER_ID: uniqueName('member'),
  ...extra,
});

beforeAll(async () => {
  await cluster.connect();
  await cluster.ensureTopics([topic, fileTopic], 1);
  writeToken(TOKEN);
  [guarded, disabled, fromFile] = await Promise.all([
    ServiceProcess.start(env({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN: TOKEN, LOG_LEVEL: 'trace' })),
    ServiceProcess.start(env({ MESSAGES_SEND: 'disabled' })),
    ServiceProcess.start({
      ...env({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN_FILE: tokenFile, LOG_LEVEL: 'trace' }),
      KAFKA_TOPICS: fileTopic,
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([guarded?.kill(), disabled?.kill(), fromFile?.kill()]);
  await cluster.close();
  rmSync(tokenDir, { recursive: true, force: true });
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

describe('MESSAGES_SEND_TOKEN_FILE', () => {
  const fileBody = JSON.stringify({ topic: fileTopic, message: 'hello', key: 'k' });
  const send = (token?: string) =>
    fromFile.post(
      '/messages/send',
      fileBody,
      json,
      token === undefined ? {} : { authorization: `Bearer ${token}` },
    );

  it('produces with the token in the file, 401 without it', async () => {
    expect((await send()).status).toBe(401);
    const res = await send(TOKEN);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'sent', topic: fileTopic });
  });

  it('takes a rotated token at the next request, without a restart; the old one is refused', async () => {
    writeToken(ROTATED);
    const old = await send(TOKEN);
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('INVALID_TOKEN');
    expect((await send(ROTATED)).status).toBe(200);
  });

  it('fails closed with 503 while the file is gone, and opens again once it is back', async () => {
    rmSync(tokenFile);
    const res = await send(ROTATED);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('SEND_TOKEN_UNAVAILABLE');
    writeToken(ROTATED);
    expect((await send(ROTATED)).status).toBe(200);
  });

  it('never writes either token to its output, at trace level', () => {
    const output = [...fromFile.logs.map((l) => JSON.stringify(l)), ...fromFile.stderr].join('\n');
    expect(output).toContain('request rejected');
    expect(output).toContain('cannot check the send token');
    expect(output).not.toContain(TOKEN);
    expect(output).not.toContain(ROTATED);
  });
});
