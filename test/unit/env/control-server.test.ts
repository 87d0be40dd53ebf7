import { afterEach, describe, expect, it } from 'vitest';
import { startControlServer, type Controllable } from '../../env/control-server.ts';

function recorder(log: string[], name: string, fail = false): Controllable {
  const act = (action: string) => async () => {
    log.push(`${name} ${action} begin`);
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (fail) throw new Error(`${name} would not ${action}`);
    log.push(`${name} ${action} end`);
  };
  return { stop: act('stop'), start: act('start'), restart: act('restart'), kill: act('kill') };
}

describe('the environment control server', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it('runs actions of one server one after another and answers when each is done', async () => {
    const log: string[] = [];
    const control = await startControlServer({ etcd: recorder(log, 'etcd') });
    close = control.close;
    const [a, b] = await Promise.all([
      fetch(`${control.url}/etcd/stop`, { method: 'POST' }),
      fetch(`${control.url}/etcd/start`, { method: 'POST' }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(log).toEqual(['etcd stop begin', 'etcd stop end', 'etcd start begin', 'etcd start end']);
  });

  it('answers 404 for unknown servers, actions and methods, and 500 with the reason of a failure', async () => {
    const control = await startControlServer({ kafka: recorder([], 'kafka', true) });
    close = control.close;
    expect((await fetch(`${control.url}/zookeeper/stop`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${control.url}/kafka/explode`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${control.url}/kafka/stop`)).status).toBe(404);
    const failed = await fetch(`${control.url}/kafka/restart`, { method: 'POST' });
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ error: 'kafka would not restart' });
  });
});
