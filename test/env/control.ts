import { inject } from 'vitest';

/**
 * Test-side client of the environment's control channel: stop, start, restart or kill (SIGKILL, as a
 * crash) the shared etcd or Kafka on the same ports and data dir. Each call resolves once the server is
 * down, or up and ready again. Other tests share these servers, so tests that use this must restore them.
 */
export type ControlledServer = 'etcd' | 'kafka';
export type ControlAction = 'stop' | 'start' | 'restart' | 'kill';

async function send(method: 'POST' | 'PUT', path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${inject('envControlUrl')}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(300_000),
  });
  if (!res.ok) throw new Error(`env control ${method} ${path}: ${res.status} ${await res.text()}`);
}

export function controlServer(server: ControlledServer, action: ControlAction): Promise<void> {
  return send('POST', `/${server}/${action}`);
}

export const stopEtcd = (): Promise<void> => controlServer('etcd', 'stop');
export const startEtcd = (): Promise<void> => controlServer('etcd', 'start');
export const restartEtcd = (): Promise<void> => controlServer('etcd', 'restart');
export const killEtcd = (): Promise<void> => controlServer('etcd', 'kill');
export const stopKafka = (): Promise<void> => controlServer('kafka', 'stop');
export const startKafka = (): Promise<void> => controlServer('kafka', 'start');
export const restartKafka = (): Promise<void> => controlServer('kafka', 'restart');
export const killKafka = (): Promise<void> => controlServer('kafka', 'kill');
