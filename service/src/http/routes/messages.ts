import { KmaintError } from '@kmaint/common';
import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';
import { inMaintenance, maintenanceMessage } from '../context.ts';
import { maintenanceReply, RETRY_AFTER_SECONDS } from '../errors.ts';
import type { ApiSendRequest } from '../port.ts';
import { checkSendAccess } from '../send-access.ts';
import {
  errorRef,
  errorResponses,
  sendBody,
  sendResponse,
  statsResponse,
  statsUnavailableResponse,
  unavailable,
} from '../schemas.ts';

/** POST /messages/send and GET /messages/stats, GoMaint's message endpoints. */
export function messageRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.post<{ Body: ApiSendRequest }>(
      '/messages/send',
      {
        schema: {
          tags: ['messages'],
          summary: 'Produce a message to one of the configured topics',
          body: sendBody,
          response: {
            200: sendResponse,
            ...errorResponses,
            401: { description: 'MESSAGES_SEND=token and no or a wrong bearer token', ...errorRef },
            403: { description: 'MESSAGES_SEND=disabled: this service does not produce', ...errorRef },
            413: { description: 'The body is larger than the limit', ...errorRef },
            415: { description: 'The body is not application/json', ...errorRef },
            503: {
              ...unavailable,
              description: `${unavailable.description}; or MESSAGES_SEND_TOKEN_FILE cannot be read (SEND_TOKEN_UNAVAILABLE)`,
            },
          },
        },
        // Before the body is read: a refused or unauthenticated client, or maintenance, produces nothing,
        // whatever was sent. Access first, so a stranger learns nothing about the maintenance state.
        onRequest: async (request, reply) => {
          const refused = checkSendAccess(ctx.sendAccess ?? { mode: 'enabled' }, request, reply);
          if (refused) return refused;
          const status = ctx.service.status();
          if (inMaintenance(status)) return maintenanceReply(reply, status);
        },
      },
      async (request) => {
        const { topic } = request.body;
        if (!ctx.topics.includes(topic)) {
          throw new KmaintError(
            'UNKNOWN_TOPIC',
            `topic "${topic}" is not served by this service; use one of: ${ctx.topics.join(', ')}`,
          );
        }
        // GoMaint's tracking headers; a client's own headers of the same name win.
        const headers = { source: 'api', timestamp: new Date().toISOString(), ...request.body.headers };
        const sent = await ctx.service.send({ ...request.body, headers });
        return { status: 'sent', ...sent };
      },
    );

    app.get(
      '/messages/stats',
      {
        schema: {
          tags: ['messages'],
          summary: 'Counters, per-partition committed/end offsets and lag, the last 10 errors',
          response: { 200: statsResponse, 500: errorResponses[500], 503: statsUnavailableResponse },
        },
      },
      async (_request, reply) => {
        const status = ctx.service.status();
        const kafka = await ctx.service.stats();
        const body = {
          kafka,
          maintenance: { active: inMaintenance(status), state: status.state },
          timestamp: new Date().toISOString(),
        };
        if (!inMaintenance(status)) return body;
        return reply
          .code(503)
          .header('retry-after', String(RETRY_AFTER_SECONDS))
          .send({ error: { code: 'MAINTENANCE', message: maintenanceMessage(status) }, ...body });
      },
    );
  };
}
