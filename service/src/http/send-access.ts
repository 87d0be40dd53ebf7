import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Who may produce through POST /messages/send. The endpoint writes to the consumed topics, so outside a
 * demo it is either off or behind a bearer token; `enabled` keeps GoMaint's open Quick Start.
 */
export type SendAccess = { mode: 'enabled' } | { mode: 'disabled' } | { mode: 'token'; token: string };

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
  if (!timingSafeEqual(digest(given), digest(access.token))) {
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
