import { createServer, type Server } from 'node:http';

/** What the control channel can act on: a server that tests stop, start or restart mid-test. */
export interface Controllable {
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  kill(): Promise<void>;
}

export type ControlAction = keyof Controllable;
const actions: readonly ControlAction[] = ['stop', 'start', 'restart', 'kill'];

export interface ControlHandlers {
  servers: Record<string, Controllable>;
  /** PUT /<name> with a JSON body, e.g. Prometheus scrape targets. */
  puts?: Record<string, (body: unknown) => Promise<void>>;
}

/**
 * Tests run in worker processes and cannot reach the server objects of the global setup, so the setup
 * serves this tiny loopback API: `POST /<server>/<action>` and `PUT /<name>` with JSON.
 * Actions on one server are serialised so two tests cannot interleave a stop and a start.
 */
export async function startControlServer(
  handlers: ControlHandlers,
): Promise<{ url: string; close(): Promise<void> }> {
  const queues = new Map<string, Promise<unknown>>();
  const serialised = (key: string, job: () => Promise<void>): Promise<void> => {
    const next = (queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(job);
    queues.set(key, next);
    return next;
  };

  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const [, name = '', action = ''] = (req.url ?? '').split('?')[0]?.split('/') ?? [];
    let job: (() => Promise<void>) | undefined;
    if (req.method === 'POST' && (actions as readonly string[]).includes(action)) {
      const target = handlers.servers[name];
      if (target !== undefined) job = () => target[action as ControlAction]();
    }
    const put = handlers.puts?.[name];
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'PUT' && put !== undefined && action === '') {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          reply(400, { error: 'body is not JSON' });
          return;
        }
        job = () => put(body);
      }
      if (job === undefined) {
        reply(404, { error: `unknown control ${req.method} ${req.url}` });
        return;
      }
      const started = Date.now();
      serialised(name, job).then(
        () => reply(200, { ok: true, ms: Date.now() - started }),
        (err: unknown) => reply(500, { error: err instanceof Error ? err.message : String(err) }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('control server has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
