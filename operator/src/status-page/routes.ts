import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { renderContent, renderPage, escapeHtml } from './render.ts';
import type { StatusSource } from './source.ts';

export type Route = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * GET /status (the page; `?fragment=1` is the part its script swaps in) and GET /status.json (the same
 * snapshot as data). When the apiserver cannot be read the answer is 503 with Retry-After, never 500.
 */
export function statusPageRoutes(source: StatusSource, log: Logger): Record<string, Route> {
  const serve =
    (
      render: (snapshot: Awaited<ReturnType<StatusSource['snapshot']>>, req: IncomingMessage) => string,
      type: string,
    ): Route =>
    (req, res) => {
      source.snapshot().then(
        (snapshot) =>
          res
            .writeHead(200, { 'content-type': type, 'cache-control': 'no-store' })
            .end(render(snapshot, req)),
        (err: unknown) => {
          log.warn({ err }, 'status page: could not read the windows');
          const message = `cannot read MaintenanceWindows from the apiserver: ${(err as Error).message}`;
          res
            .writeHead(503, { 'content-type': type, 'retry-after': '5', 'cache-control': 'no-store' })
            .end(
              type.startsWith('application/json')
                ? JSON.stringify({ error: { code: 'KUBE_UNAVAILABLE', message } })
                : `<!doctype html><title>kmaint</title><p>${escapeHtml(message)}</p>`,
            );
        },
      );
    };
  const html = 'text/html; charset=utf-8';
  return {
    '/status': serve(
      (snapshot, req) =>
        new URL(req.url ?? '/', 'http://x').searchParams.has('fragment')
          ? renderContent(snapshot)
          : renderPage(snapshot),
      html,
    ),
    '/status.json': serve((snapshot) => JSON.stringify(snapshot), 'application/json'),
  };
}
