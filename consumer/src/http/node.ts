import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Consumer } from '../consumer.ts';
import { probe } from './probes.ts';

/** A node:http handler; `next` is called for other paths (without it they get a 404). */
export type ProbeRequestHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

/**
 * GET /livez, /readyz and /metrics for a node:http server (or anything taking `(req, res, next)`):
 * `http.createServer(probeHandler(consumer))`, or call it first in your own request handler.
 */
export function probeHandler(consumer: Pick<Consumer, 'health' | 'registry'>): ProbeRequestHandler {
  return (req, res, next) => {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const method = req.method ?? 'GET';
    void (async () => {
      const reply = method === 'GET' || method === 'HEAD' ? await probe(consumer, path) : null;
      if (reply === null) {
        if (next !== undefined) return next();
        res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route ${method} ${path}` } }));
        return;
      }
      res.writeHead(reply.status, { 'content-type': reply.contentType, 'cache-control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : reply.body);
    })().catch((err: unknown) => {
      // Only the metrics collection can fail; a scrape gets a 503, never a hung request.
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8', 'retry-after': '5' });
      res.end(JSON.stringify({ error: { code: 'METRICS_UNAVAILABLE', message: String(err) } }));
    });
  };
}
