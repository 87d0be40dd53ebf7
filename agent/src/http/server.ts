import {
  fastify,
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Agent } from '../agent.ts';
import { parsePoll } from '../core/poll.ts';
import { parseAppReport } from '../core/session.ts';

/**
 * The agent's HTTP server: the app protocol under /v1 (loopback callers only: it is the pod's private
 * channel), the probes the kubelet calls, and /metrics.
 */
/** What the server needs of the agent (tests give it a fake). */
export type AgentApi = Pick<Agent, 'poll' | 'report' | 'status'>;

export function buildServer(agent: AgentApi, registry: Registry, logger: Logger): FastifyInstance {
  const app = fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 16 * 1024,
  });
  // A client in a few lines may send JSON as text/plain, form data or no content type at all (curl -d,
  // fetch with a string): every body is read as JSON.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body === '' ? undefined : JSON.parse(body as string));
    } catch (err) {
      done(Object.assign(err as Error, { statusCode: 400 }), undefined);
    }
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status =
      err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) req.log.error({ err, url: req.url }, 'request failed');
    void reply.code(status).send({ error: err.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` });
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.url.startsWith('/v1/') && !isLoopback(req.socket.remoteAddress)) {
      return reply.code(403).send({ error: 'the app protocol answers localhost only' });
    }
  });

  app.get('/v1/desired', async (req, reply) => {
    const poll = parsePoll(req.query as Record<string, unknown>);
    if (!poll.ok) return reply.code(400).send({ error: poll.error });
    const closed = new AbortController();
    req.raw.once('close', () => closed.abort());
    reply.raw.once('close', () => closed.abort());
    const view = await agent.poll(poll.value.after, poll.value.waitMs, closed.signal);
    if (view === null) {
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({ error: 'the agent has not read the maintenance switch from etcd yet' });
    }
    return view;
  });

  app.post('/v1/state', async (req, reply) => {
    const parsed = parseAppReport(req.body);
    if (!parsed.ok) return reply.code(400).send({ error: parsed.error });
    const result = agent.report(parsed.value);
    if (!result.ok) return reply.code(400).send({ error: result.error });
    return result.value;
  });

  app.get('/v1/status', async () => agent.status());

  // The pod's readiness: 503 from the moment a window opens until the app says it resumed.
  app.get('/readyz', async (_req, reply) => {
    const status = agent.status();
    return reply.code(status.ready ? 200 : 503).send(status);
  });
  app.get('/livez', async () => ({ status: 'alive' }));
  app.get('/metrics', async (_req, reply) =>
    reply.header('content-type', registry.contentType).send(await registry.metrics()),
  );
  return app;
}

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}
