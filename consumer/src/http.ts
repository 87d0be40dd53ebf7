// @kmaint/consumer/http: /livez, /readyz and /metrics for a node:http server.
export { probeHandler, type ProbeRequestHandler } from './http/node.ts';
export { PROBE_PATHS, probe, type ProbeReply } from './http/probes.ts';
