import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ok } from '@kmaint/common';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import type { SendAccess } from '../../../src/http/send-access.ts';
import { createLogger } from '../../../src/log.ts';
import { sendAccess } from '../../../src/options.ts';
import { appWith, FakeService } from './fake-service.ts';

const TOKEN = 'the-send-token-0123456789';
const BODY = JSON.stringify({ topic: 'test-topic', message: 'hello' });

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** An app whose log lines (at trace, the most talkative level) are kept as text. */
async function appLogging(sendAccess: SendAccess | undefined) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const service = new FakeService();
  const logger = createLogger({ level: 'trace', memberId: 'pod-0', destination });
  app = await appWith(service, undefined, { ...(sendAccess ? { sendAccess } : {}), logger });
  return { app, service, lines };
}

const send = (a: FastifyInstance, authorization?: string) =>
  a.inject({
    method: 'POST',
    url: '/messages/send',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    payload: BODY,
  });

describe('POST /messages/send access', () => {
  it('is open by default (the GoMaint demo)', async () => {
    const { app, service } = await appLogging(undefined);
    expect((await send(app)).statusCode).toBe(200);
    expect(service.sent).toHaveLength(1);
  });

  it('disabled: 403 with the error shape, nothing produced, even with a token', async () => {
    const { app, service } = await appLogging({ mode: 'disabled' });
    for (const auth of [undefined, `Bearer ${TOKEN}`]) {
      const res = await send(app, auth);
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({
        error: {
          code: 'SEND_DISABLED',
          message: 'POST /messages/send is disabled on this service (MESSAGES_SEND=disabled)',
        },
      });
    }
    expect(service.sent).toHaveLength(0);
  });

  it('token: 401 with WWW-Authenticate without a bearer token', async () => {
    const { app, service } = await appLogging({ mode: 'token', token: () => ok(TOKEN) });
    for (const auth of [undefined, `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`, 'Bearer']) {
      const res = await send(app, auth);
      expect(res.statusCode).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer realm="kmaint"');
      expect(res.json().error.code).toBe('UNAUTHORIZED');
    }
    expect(service.sent).toHaveLength(0);
  });

  it('token: 401 invalid_token with a wrong one, 200 with the right one', async () => {
    const { app, service } = await appLogging({ mode: 'token', token: () => ok(TOKEN) });
    const wrong = await send(app, `Bearer ${TOKEN}x`);
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="kmaint", error="invalid_token"');
    expect(wrong.json().error).toEqual({
      code: 'INVALID_TOKEN',
      message: 'the bearer token of POST /messages/send is not the configured one',
    });
    expect((await send(app, `bearer ${TOKEN}`)).statusCode).toBe(200);
    expect(service.sent).toHaveLength(1);
  });

  it('the access check comes before maintenance: a stranger learns nothing of the state', async () => {
    const { app, service } = await appLogging({ mode: 'token', token: () => ok(TOKEN) });
    service.state = 'maintenance';
    expect((await send(app)).statusCode).toBe(401);
    expect((await send(app, `Bearer ${TOKEN}`)).statusCode).toBe(503);
  });

  it('never logs the token, right or wrong', async () => {
    const { app, lines } = await appLogging({ mode: 'token', token: () => ok(TOKEN) });
    await send(app, `Bearer ${TOKEN}`);
    await send(app, `Bearer ${TOKEN}-wrong`);
    app.log.info({ req: { headers: { authorization: `Bearer ${TOKEN}` } } }, 'a request as pino logs it');
    app.log.info({ headers: { authorization: `Bearer ${TOKEN}` } }, 'headers');
    expect(lines.join('')).toContain('request rejected');
    expect(lines.join('')).toContain('[redacted]');
    expect(lines.join('')).not.toContain(TOKEN);
  });
});

describe('POST /messages/send with MESSAGES_SEND_TOKEN_FILE', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** Replaces the file as the kubelet rotates a mounted Secret: a new file renamed over the old one. */
  const rotate = (file: string, token: string): void => {
    writeFileSync(`${file}.new`, `${token}\n`);
    renameSync(`${file}.new`, file);
  };

  const fromFile = () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-send-token-'));
    dirs.push(dir);
    const file = join(dir, 'token');
    rotate(file, TOKEN);
    const config = loadConfig({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN_FILE: file });
    return { file, access: sendAccess(config) };
  };

  it('takes the token in the file (its line end trimmed): 200 with it, 401 without or with another', async () => {
    const { access } = fromFile();
    const { app, service } = await appLogging(access);
    expect((await send(app, `Bearer ${TOKEN}`)).statusCode).toBe(200);
    expect((await send(app)).statusCode).toBe(401);
    expect((await send(app, `Bearer ${TOKEN}x`)).json().error.code).toBe('INVALID_TOKEN');
    expect(service.sent).toHaveLength(1);
  });

  it('a rotated token applies to the next request, and the old one no longer opens it', async () => {
    const { file, access } = fromFile();
    const { app, service } = await appLogging(access);
    expect((await send(app, `Bearer ${TOKEN}`)).statusCode).toBe(200);
    const rotated = 'the-rotated-send-token-9876543210';
    rotate(file, rotated);
    expect((await send(app, `Bearer ${TOKEN}`)).statusCode).toBe(401);
    expect((await send(app, `Bearer ${rotated}`)).statusCode).toBe(200);
    expect(service.sent).toHaveLength(2);
  });

  it('a file gone or too short after start fails closed: 503 SEND_TOKEN_UNAVAILABLE, nothing produced', async () => {
    const { file, access } = fromFile();
    const { app, service, lines } = await appLogging(access);
    for (const broken of [() => rotate(file, 'short'), () => rmSync(file)]) {
      broken();
      const res = await send(app, `Bearer ${TOKEN}`);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        error: {
          code: 'SEND_TOKEN_UNAVAILABLE',
          message: 'POST /messages/send cannot check bearer tokens now: its token file is unreadable',
        },
      });
    }
    expect(service.sent).toHaveLength(0);
    // The log names the file and the rule, so the operator can fix it, never a token.
    expect(lines.join('')).toContain(`the token in \\"${file}\\" must be at least 16 characters`);
    expect(lines.join('')).toContain(`cannot read file \\"${file}\\"`);
  });

  it('never logs the token of the file, right, wrong or rotated', async () => {
    const { file, access } = fromFile();
    const { app, lines } = await appLogging(access);
    await send(app, `Bearer ${TOKEN}`);
    await send(app, `Bearer ${TOKEN}-wrong`);
    const rotated = 'the-rotated-send-token-9876543210';
    rotate(file, rotated);
    await send(app, `Bearer ${TOKEN}`);
    await send(app, `Bearer ${rotated}`);
    rotate(file, 'short');
    await send(app, `Bearer ${rotated}`);
    expect(lines.join('')).toContain('request rejected');
    expect(lines.join('')).toContain('cannot check the send token');
    expect(lines.join('')).not.toContain(TOKEN);
    expect(lines.join('')).not.toContain(rotated);
  });
});
