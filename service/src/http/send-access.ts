import { createHash, timingSafeEqual } from 'node:crypto';
import type { Parsed } from '@kmaint/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Who may produce through POST /messages/send. The endpoint writes to the consumed topics, so outside a
 * demo it is either off or behind a bearer token; `enabled` keeps GoMaint's open Quick Start.
 */
export type SendAccess =
  | { mode: 'enabled' }
  | { mode: 'disabled' }
  /** `token` gives the token for each request: from a file, what the file holds now (it may be rotated). */
  | { mode: 'token'; token: () => Parsed<string> };

const REALM = 'Bearer realm="kmaint"';

// Hashing both sides first gives equal lengths, so the comparison takes the same time whatever was sent.
const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

const refuse = (
  request: FastifyRequest,
  reply: FastifyReply,
  status: 401 | 403,
  code: string,
  message: string,
  challenge?: string,
): FastifyReply => {
  // The reason only: the Authorization header is redacted from every log line anyway.
  request.log.info({ code, url: request.url, reason: message }, 'request rejected');
  if (challenge !== undefined) reply.header('www-authenticate', challenge);
  return reply.code(status).send({ error: { code, message } });
};

/** The onRequest check of the produce endpoint: 403 when it is disabled, 401 without the right token. */
export function checkSendAccess(
  access: SendAccess,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply | undefined {
  if (access.mode === 'enabled') return undefined;
  if (access.mode === 'disabled') {
    return refuse(
      request,
      reply,
      403,
      'SEND_DISABLED',
      'POST /messages/send is disabled on this service (MESSAGES_SEND=disabled)',
    );
  }
  const token = access.token();
  if (!token.ok) {
    // Refused, never let through: a token file that went missing or bad during a rotation fails closed.
    // The path and the rule go to the log; the client learns only that the check cannot be made.
    request.log.error({ code: 'SEND_TOKEN_UNAVAILABLE', reason: token.error }, 'cannot check the send token');
    return reply.code(503).send({
      error: {
        code: 'SEND_TOKEN_UNAVAILABLE',
        message: 'POST /messages/send cannot check bearer tokens now: its token file is unreadable',
      },
    });
  }
  const given = bearerToken(request.headers.authorization);
  if (given === undefined) {
    return refuse(
      request,
      reply,
      401,
      'UNAUTHORIZED',
      'POST /messages/send needs the header Authorization: Bearer <token>',
      REALM,
    );
  }
  if (!timingSafeEqual(digest(given), digest(token.value))) {
    return refuse(
      request,
      reply,
      401,
      'INVALID_TOKEN',
      'the bearer token of POST /messages/send is not the configured one',
      `${REALM}, error="invalid_token"`,
    );
  }
  return undefined;
}
