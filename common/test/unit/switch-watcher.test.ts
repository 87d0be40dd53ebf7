import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Desired } from '../../src/switch.ts';
import { SwitchWatcher } from '../../src/switch-watcher.ts';

/**
 * A stand-in for etcd whose watch stream goes silent: it is created and never delivers an event nor
 * reports a disconnect, which is what a half-open connection (no keepalive) looks like to the client.
 */
function silentEtcd(initial: string) {
  const state = { value: initial, modRevision: 5, revision: 5, watches: 0 };
  const client = {
    get: () => ({
      exec: async () => ({
        header: { revision: String(state.revision) },
        kvs: [{ value: Buffer.from(state.value), mod_revision: String(state.modRevision) }],
      }),
    }),
    watch: () => {
      const builder = {
        key: () => builder,
        startRevision: () => builder,
        watcher: () => {
          state.watches += 1;
          return Object.assign(new EventEmitter(), { cancel: async () => undefined });
        },
      };
      return builder;
    },
  };
  return { client: client as unknown as Etcd3, state };
}

async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('SwitchWatcher', () => {
  it('defect 11: a watch that went silent is noticed by the periodic re-read, and the change it missed is applied', async () => {
    const { client, state } = silentEtcd('false');
    const seen: Desired[] = [];
    const restarts: string[] = [];
    const watcher = new SwitchWatcher(
      client,
      { key: '/maintenance/x', unavailable: 'keep', logger: pino({ level: 'silent' }), recheckMs: 20 },
      {
        desired: (d) => seen.push(d),
        invalid: () => undefined,
        health: () => undefined,
        restart: (why) => restarts.push(why),
      },
    );
    await watcher.start();
    expect(seen.at(-1)?.maintenance).toBe(false);
    // The switch turns on; the silent watch never says so.
    Object.assign(state, { value: 'true', modRevision: 6, revision: 6 });
    try {
      await until(() => seen.at(-1)?.maintenance === true);
      expect(restarts.some((r) => r.includes('missed'))).toBe(true);
      expect(state.watches).toBeGreaterThanOrEqual(2);
    } finally {
      await watcher.close();
    }
  });
});
