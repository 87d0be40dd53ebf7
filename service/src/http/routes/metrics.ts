import type { FastifyInstance } from 'fastify';

export interface MetricsText {
  contentType: string;
  metrics(): Promise<string>;
}

/** GET /metrics in the Prometheus text format; answers in maintenance too (that is when it matters). */
export function metricsRoutes(source: MetricsText) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/metrics',
      {
        schema: {
          tags: ['metrics'],
          summary: 'Prometheus metrics',
          response: {
            200: {
              description: 'Prometheus text exposition format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      async (_request, reply) => reply.type(source.contentType).send(await source.metrics()),
    );
  };
}
