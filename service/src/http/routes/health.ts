import type { FastifyInstance } from 'fastify';
import type { RouteContext } from '../context.ts';
import { inMaintenance, isReady } from '../context.ts';
import type { ApiStatus } from '../port.ts';
import { errorRef, healthResponse, probeResponse } from '../schemas.ts';

/** /health for people watching a drain, /livez and /readyz for Kubernetes. */
export function healthRoutes(ctx: RouteContext) {
  return async (app: FastifyInstance): Promise<void> => {
    app.get(
      '/health',
      {
        schema: {
          tags: ['health'],
          summary:
            'Status, maintenance state with drain progress, component health; 200 while the process works',
          response: { 200: healthResponse },
        },
      },
      async () => healthBody(ctx, ctx.service.status()),
    );

    app.get(
      '/livez',
      {
        schema: {
          tags: ['health'],
          summary: 'Liveness: 200 while the event loop and the engine answer, in maintenance too',
          response: { 200: probeResponse },
        },
      },
      async () => ({ status: 'ok', state: ctx.service.status().state }),
    );

    app.get(
      '/readyz',
      {
        schema: {
          tags: ['health'],
          summary:
            'Readiness: 200 while a consumer session consumes; 503 while starting, joining, draining, in maintenance or resuming',
          response: { 200: probeResponse, 503: { description: 'Not consuming', ...errorRef } },
        },
      },
      async (_request, reply) => {
        const status = ctx.service.status();
        if (isReady(status)) return { status: 'ready', state: status.state };
        return reply.code(503).send({
          error: { code: 'NOT_READY', message: `not consuming: state ${status.state} since ${status.since}` },
        });
      },
    );
  };
}

function healthBody(ctx: RouteContext, status: ApiStatus) {
  const now = Date.now();
  const active = inMaintenance(status);
  const degraded = !status.components.kafka.healthy || !status.components.etcd.healthy;
  return {
    status: active ? 'maintenance' : degraded ? 'degraded' : 'healthy',
    maintenance: {
      active,
      state: status.state,
      since: status.since,
      desired: status.desired.maintenance,
      mode: status.desired.mode,
      reason: status.desired.reason,
      window: status.desired.window,
      drain:
        status.state === 'draining'
          ? {
              startedAt: status.since,
              elapsedMs: Math.max(0, now - Date.parse(status.since)),
              timeoutMs: status.drainTimeoutMs,
              inFlight: status.inFlight,
            }
          : null,
      lastDrain: status.lastDrain,
      invalidSwitch: status.invalidSwitch,
      shuttingDown: status.shuttingDown,
    },
    components: status.components,
    topics: ctx.topics,
    consumerGroup: ctx.consumerGroup,
    memberId: ctx.memberId,
    maintenanceKey: ctx.maintenanceKey,
    inFlight: status.inFlight,
    uptimeSeconds: Math.round(process.uptime()),
    timestamp: new Date(now).toISOString(),
  };
}
