import { createServer } from 'node:http';

/** What the control channel can act on: a server that tests stop, start or restart mid-test. */
export interface Controllable {
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  kill(): Promise<void>;
}

type ControlAction = keyof Controllable;
const actions: readonly string[] = ['stop', 'start', 'restart', 'kill'] satisfies ControlAction[];

/**
 * Tests run in worker processes and cannot reach the server objects of the global setup, so the setup
 * serves this tiny loopback API: `POST /<server>/<action>`, answered once the action is done.
 * Actions on one server are serialised so two tests cannot interleave a stop and a start.
 */
export async function startControlServer(
  servers: Record<string, Controllable>,
): Promise<{ url: string; close(): Promise<void> }> {
  const queues = new Map<string, Promise<unknown>>();
  const serialised = (key: string, job: () => Promise<void>): Promise<void> => {
    const next = (queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(job);
    queues.set(key, next);
    return next;
  };

  const server = createServer((req, res) => {
    req.resume();
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const [, name = '', action = ''] = (req.url ?? '').split('?')[0]?.split('/') ?? [];
    const target = servers[name];
    if (req.method !== 'POST' || target === undefined || !actions.includes(action)) {
      reply(404, { error: `unknown control ${req.method} ${req.url}` });
      return;
    }
    const started = Date.now();
    serialised(name, () => target[action as ControlAction]()).then(
      () => reply(200, { ok: true, ms: Date.now() - started }),
      (err: unknown) => reply(500, { error: err instanceof Error ? err.message : String(err) }),
    );
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
