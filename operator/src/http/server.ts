import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export interface Probes {
  /** The process works (its event loop answers): always true once listening. */
  live(): boolean;
  /** Ready to do its job: a leader with synced caches, or a standby that reaches the apiserver. */
  ready(): { ok: boolean; detail: string };
}

/** Further GET routes by path (the status page). */
export type Routes = Record<string, (req: IncomingMessage, res: ServerResponse) => void>;

/** /livez, /readyz, /metrics and the given routes on one small node:http server; nothing else is served. */
export function startHttpServer(
  port: number,
  probes: Probes,
  registry: Registry,
  routes: Routes = {},
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/livez') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const { ok, detail } = probes.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${detail}\n`);
    } else if (path === '/metrics') {
      registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err)),
      );
    } else if (path !== undefined && Object.hasOwn(routes, path)) {
      routes[path]?.(req, res);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /livez, /readyz, /metrics\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
