import swagger from '@fastify/swagger';
import { fastify, LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { RouteContext } from './context.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { healthRoutes } from './routes/health.ts';
import { messageRoutes } from './routes/messages.ts';
import { metricsRoutes, type MetricsText } from './routes/metrics.ts';
import { topicRoutes } from './routes/topics.ts';
import { errorBody } from './schemas.ts';

export interface AppOptions extends RouteContext {
  metrics: MetricsText;
  logger: Logger;
  /** Largest accepted request body in bytes (413 above it); Kafka's default message limit is ~1 MiB. */
  bodyLimit?: number;
}

const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Builds the HTTP API (not listening yet: main.ts listens, tests use inject()). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = fastify({
    loggerInstance: options.logger.child({ component: 'http' }) as FastifyBaseLogger,
    // Probes and scrapes arrive every few seconds; errors are logged by the error handler instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    ajv: {
      // A wrong type is the client's mistake to hear about, not something to coerce into a message.
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true },
    },
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  app.addSchema(errorBody);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'kmaint service',
        description:
          'Kafka consumer with etcd-switched maintenance windows (GoMaint-compatible API). In maintenance the ' +
          'non-health endpoints answer 503 with Retry-After.',
        version: '0.1.0',
      },
      tags: [
        { name: 'health', description: 'Health and Kubernetes probes' },
        { name: 'messages', description: 'Produce and watch messages' },
        { name: 'topics', description: 'Topic metadata' },
        { name: 'metrics', description: 'Prometheus' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  });

  await app.register(healthRoutes(options));
  await app.register(messageRoutes(options));
  await app.register(topicRoutes(options));
  await app.register(metricsRoutes(options.metrics));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
