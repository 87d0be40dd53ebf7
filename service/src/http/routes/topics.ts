import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';
import { inMaintenance } from '../context.ts';
import { maintenanceReply } from '../errors.ts';
import { topicsResponse, unavailable, errorResponses } from '../schemas.ts';

/** GET /topics/info: partition metadata and offsets of each configured topic. */
export function topicRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/topics/info',
      {
        schema: {
          tags: ['topics'],
          summary: 'Each configured topic with partitions: leader, replicas, in-sync replicas, offsets',
          response: { 200: topicsResponse, 500: errorResponses[500], 503: unavailable },
        },
      },
      async (_request, reply) => {
        const status = ctx.service.status();
        if (inMaintenance(status)) return maintenanceReply(reply, status);
        return { topics: await ctx.service.topicsInfo() };
      },
    );
  };
}
