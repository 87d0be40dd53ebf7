import { KmaintError } from '@kmaint/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { maintenanceMessage } from './context.ts';
import type { ApiStatus } from './port.ts';

export interface ApiError {
  status: number;
  code: string;
  message: string;
}

/** Codes of KmaintErrors that are the client's fault, with their HTTP status. */
const clientErrors: Record<string, number> = {
  UNKNOWN_TOPIC: 400,
  MESSAGE_TOO_LARGE: 413,
};

/**
 * Maps anything thrown while answering to the one error shape. Fastify's own 4xx errors (bad JSON, body
 * too large, wrong media type, schema violations) keep their status and get a code a client can match.
 */
export function toApiError(err: FastifyError | Error): ApiError {
  if (err instanceof KmaintError) {
    const status = clientErrors[err.code] ?? (err.retriable ? 503 : 500);
    return { status, code: err.code, message: err.message };
  }
  const fe = err as FastifyError;
  if (fe.validation) {
    return { status: 400, code: 'INVALID_BODY', message: fe.message };
  }
  switch (fe.code) {
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'INVALID_JSON', message: 'the body is empty; send a JSON object' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'INVALID_JSON', message: `the body is not valid JSON: ${fe.message}` };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'BODY_TOO_LARGE', message: fe.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
        message: `${fe.message}; send Content-Type: application/json`,
      };
  }
  // The JSON body parser rejects with a SyntaxError carrying status 400.
  if (err instanceof SyntaxError && fe.statusCode === 400) {
    return { status: 400, code: 'INVALID_JSON', message: `the body is not valid JSON: ${err.message}` };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, code: 'BAD_REQUEST', message: fe.message };
  }
  return { status: 500, code: 'INTERNAL', message: 'internal error; the service log has the details' };
}

export const RETRY_AFTER_SECONDS = 30;

export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const api = toApiError(err);
  if (api.status >= 500) request.log.error({ err, url: request.url }, 'request failed');
  else request.log.info({ code: api.code, url: request.url, reason: api.message }, 'request rejected');
  if (api.status === 503) reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return reply.code(api.status).send({ error: { code: api.code, message: api.message } });
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send({
    error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` },
  });
}

/** The 503 of the non-health endpoints in maintenance, as GoMaint's API promises, with when to come back. */
export function maintenanceReply(reply: FastifyReply, status: ApiStatus): FastifyReply {
  return reply
    .code(503)
    .header('retry-after', String(RETRY_AFTER_SECONDS))
    .send({ error: { code: 'MAINTENANCE', message: maintenanceMessage(status) } });
}
