// @kmaint/consumer/fastify: /livez, /readyz and /metrics as a fastify plugin (fastify is a peer dependency).
export { probesPlugin, type ProbesPluginOptions } from './http/fastify.ts';
