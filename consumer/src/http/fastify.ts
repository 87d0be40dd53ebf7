import type { FastifyPluginAsync } from 'fastify';
import type { Consumer } from '../consumer.ts';
import { PROBE_PATHS, probe } from './probes.ts';

export interface ProbesPluginOptions {
  consumer: Pick<Consumer, 'health' | 'registry'>;
}

/** GET /livez, /readyz and /metrics as a fastify plugin: `app.register(probesPlugin, { consumer })`. */
export const probesPlugin: FastifyPluginAsync<ProbesPluginOptions> = async (app, { consumer }) => {
  for (const path of PROBE_PATHS) {
    app.get(path, async (_request, reply) => {
      const r = await probe(consumer, path);
      if (r === null) return reply.code(404).send();
      return reply.code(r.status).header('cache-control', 'no-store').type(r.contentType).send(r.body);
    });
  }
};
