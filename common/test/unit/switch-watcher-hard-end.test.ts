import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/env/helpers.ts';
import { encodeSwitchValue, type Desired, type SwitchValue } from '../../src/index.ts';
import { SwitchWatcher } from '../../src/switch-watcher.ts';

/** Just enough of an etcd client for the follower: one key, a read, and a watch the test can put to. */
function fakeEtcd(initial: string | null) {
  let value = initial;
  let revision = 1;
  const watchers: EventEmitter[] = [];
  const client = {
    get: () => ({
      exec: async () => ({
        header: { revision: String(revision) },
        kvs: value === null ? [] : [{ value: Buffer.from(value), mod_revision: String(revision) }],
      }),
    }),
    watch: () => ({
      key: () => ({
        startRevision: () => ({
          watcher: () => {
            const w = Object.assign(new EventEmitter(), { cancel: async () => undefined });
            watchers.push(w);
            return w;
          },
        }),
      }),
    }),
  };
  return {
    client: client as unknown as Etcd3,
    /** Whether the follower's watch is open, so a put reaches it (this fake replays nothing). */
    watching: () => watchers.length > 0,
    put(v: string) {
      value = v;
      revision++;
      for (const w of watchers) w.emit('put', { value: Buffer.from(v), mod_revision: String(revision) });
    },
  };
}

function follow(initial: string | null) {
  const etcd = fakeEtcd(initial);
  const seen: Desired[] = [];
  const watcher = new SwitchWatcher(
    etcd.client,
    { key: '/maintenance/svc', unavailable: 'keep', logger: pino({ level: 'silent' }) },
    {
      desired: (d) => seen.push(d),
      invalid: () => undefined,
      health: () => undefined,
      restart: () => undefined,
    },
  );
  return { etcd, seen, watcher, last: () => seen.at(-1) };
}

const on = (until: number | null, extra: Partial<SwitchValue> = {}): string =>
  encodeSwitchValue({
    enabled: true,
    mode: 'drain',
    window: 'ns/w',
    ...(until === null ? {} : { until: new Date(until).toISOString() }),
    ...extra,
  });

describe('SwitchWatcher and the hard end', () => {
  it('turns maintenance off on its own once until passes, saying so', async () => {
    const until = Date.now() + 300;
    const f = follow(on(until));
    await f.watcher.start();
    expect(f.last()).toMatchObject({ maintenance: true, until: new Date(until).toISOString() });
    await waitFor(() => f.last()?.maintenance === false, { message: 'resumed at the hard end' });
    expect(Date.now()).toBeGreaterThanOrEqual(until);
    expect(f.last()).toMatchObject({
      maintenance: false,
      window: 'ns/w',
      resumedAtHardEnd: new Date(until).toISOString(),
      reason: expect.stringContaining('hard end'),
    });
    await f.watcher.close();
  });

  it('re-arms on every new value: a later until moves the resume, an off cancels it', async () => {
    const f = follow(on(Date.now() + 200));
    await f.watcher.start();
    await waitFor(() => f.etcd.watching(), { message: 'the watch is open' });
    const later = Date.now() + 60_000;
    f.etcd.put(on(later));
    f.etcd.put(encodeSwitchValue({ enabled: false, mode: 'drain' }));
    const offs = f.seen.length;
    f.etcd.put(on(Date.now() + 250, { reason: 'again' }));
    await waitFor(() => f.last()?.resumedAtHardEnd !== undefined && f.last()?.maintenance === false);
    // The first value's timer never fired: after the plain off, only the last on resumed by itself.
    expect(f.seen.slice(0, offs).every((d) => d.resumedAtHardEnd === undefined)).toBe(true);
    expect(f.seen.filter((d) => d.resumedAtHardEnd !== undefined)).toHaveLength(1);
    await f.watcher.close();
  });

  it('a value read after its hard end means resume, without a moment of maintenance', async () => {
    const f = follow(on(Date.now() - 1_000));
    await f.watcher.start();
    expect(f.seen).toHaveLength(1);
    expect(f.seen[0]).toMatchObject({ maintenance: false, resumedAtHardEnd: expect.any(String) });
    await f.watcher.close();
  });

  it('an on without until stays on', async () => {
    const f = follow(on(null));
    await f.watcher.start();
    expect(f.last()).toMatchObject({ maintenance: true, until: null });
    await f.watcher.close();
  });
});
