import { encodeSwitchValue, KmaintError, SWITCH_OFF, type MemberReport } from '@kmaint/common';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Controller, type SourceHandlers } from '../../src/controller.ts';
import type { SwitchStore } from '../../src/etcd/switches.ts';
import { FINALIZER, type WindowObject } from '../../src/kube/resources.ts';
import type { WindowWriter } from '../../src/kube/windows.ts';
import { createMetrics } from '../../src/metrics.ts';
import { waitFor } from '../../../test/env/helpers.ts';

// The controller with its collaborators faked (unit test): what it writes, and when.
function harness(
  opts: {
    leader?: boolean;
    statusFails?: boolean;
    etcdWriteFails?: () => boolean;
    /** The finalizer update never comes back through the cache (an informer that lags behind). */
    cacheLags?: boolean;
    /** Finalizer patches wait for this (an apiserver slow under a burst). */
    finalizersWait?: Promise<unknown>;
  } = {},
) {
  const objects = new Map<string, WindowObject>();
  const values = new Map<string, string>();
  const writes: [string, string][] = [];
  const finalizerUpdates: [string, string[]][] = [];
  const events: string[] = [];
  /** Key writes and status patches in the order they happened. */
  const order: string[] = [];
  let handlers: SourceHandlers | null = null;
  const lostListeners: (() => void)[] = [];
  /** etcd drops the lease and the keys on it, and tells the store. */
  const loseLease = () => {
    for (const key of provisional) values.delete(key);
    provisional.clear();
    for (const listener of lostListeners) listener();
  };
  /** The keys written provisionally (on the operator's lease). */
  const provisional = new Set<string>();
  const store = (key: string, value: string, onLease: boolean) => {
    if (opts.etcdWriteFails?.()) {
      throw new KmaintError('ETCD_WRITE', `etcd: could not write ${key}: connection refused`, {
        retriable: true,
      });
    }
    writes.push([key, value]);
    order.push(`key ${key}`);
    values.set(key, value);
    if (onLease) provisional.add(key);
    else provisional.delete(key);
  };
  const switches: SwitchStore = {
    read: async (key) => values.get(key) ?? null,
    write: async (key, value) => store(key, value, false),
    // As etcd's compare-and-put: nothing happens when the key holds the value on the lease asked for.
    ensure: async (key, value, onLease) => {
      const previous = values.get(key) ?? null;
      if (previous === value && provisional.has(key) === onLease) return { written: false, previous };
      store(key, value, onLease);
      return { written: true, previous };
    },
    onProvisionalLost: (listener) => lostListeners.push(listener),
    readMembers: async (): Promise<MemberReport[]> => [],
    watchMembers: async () => async () => undefined,
    close: () => undefined,
  };
  const writer: WindowWriter = {
    patchStatus: async (obj, status) => {
      if (opts.statusFails) {
        throw new KmaintError('KUBE_STATUS_PATCH', 'apiserver: could not patch status: 503 unavailable', {
          retriable: true,
        });
      }
      order.push(`status ${obj.metadata.name}`);
      const cur = objects.get(`${obj.metadata.namespace}/${obj.metadata.name}`);
      if (cur) cur.status = status as unknown as Record<string, unknown>;
    },
    setFinalizers: async (obj, finalizers) => {
      const ref = `${obj.metadata.namespace}/${obj.metadata.name}`;
      await opts.finalizersWait;
      finalizerUpdates.push([ref, finalizers]);
      order.push(`finalizer ${obj.metadata.name}`);
      const cur = objects.get(ref);
      if (!cur || opts.cacheLags) return;
      if (cur.metadata.deletionTimestamp !== undefined && finalizers.length === 0) {
        objects.delete(ref);
        handlers?.windowDeleted(cur);
      } else {
        cur.metadata.finalizers = finalizers;
        handlers?.windowChanged(cur);
      }
    },
    recordEvent: async (_obj, e) => {
      events.push(e.reason);
    },
  };
  const metrics = createMetrics();
  const reconciled = async (kind: 'window' | 'key'): Promise<number> =>
    (await metrics.reconciles.get()).values
      .filter((v) => v.labels.kind === kind)
      .reduce((sum, v) => sum + v.value, 0);
  const errors = async (code: string): Promise<number> =>
    (await metrics.errors.get()).values.find((v) => v.labels.code === code)?.value ?? 0;
  const controller = new Controller({
    startSources: async (h) => {
      handlers = h;
      return {
        windows: () => [...objects.values()],
        window: (ns, name) => objects.get(`${ns}/${name}`),
        pods: () => [],
        synced: () => true,
        stop: async () => undefined,
      };
    },
    switches,
    writer,
    isLeader: () => opts.leader ?? true,
    metrics,
    log: pino({ level: 'silent' }),
    resyncPeriodMs: 60_000,
  });
  const put = (name: string, spec: Record<string, unknown>) => {
    const obj: WindowObject = {
      metadata: {
        name,
        namespace: 'ns',
        generation: 1,
        creationTimestamp: new Date().toISOString(),
        ...(opts.cacheLags && { resourceVersion: '1' }),
      },
      spec,
    };
    objects.set(`ns/${name}`, obj);
    handlers?.windowChanged(obj);
    return obj;
  };
  /** Gone from the cache at once, as a window without the finalizer goes when deleted. */
  const drop = (name: string) => {
    const obj = objects.get(`ns/${name}`);
    if (!obj) return;
    objects.delete(`ns/${name}`);
    handlers?.windowDeleted(obj);
  };
  /** The cached object delivered again unchanged, as a resync does. */
  const touch = (name: string) => {
    const obj = objects.get(`ns/${name}`);
    if (obj) handlers?.windowChanged(obj);
  };
  const remove = (name: string) => {
    const obj = objects.get(`ns/${name}`);
    if (!obj) return;
    obj.metadata.deletionTimestamp = new Date().toISOString();
    handlers?.windowChanged(obj);
  };
  return {
    controller,
    values,
    provisional,
    loseLease,
    writes,
    finalizerUpdates,
    events,
    order,
    put,
    touch,
    drop,
    remove,
    objects,
    reconciled,
    errors,
    metrics,
  };
}

describe('Controller', () => {
  it('writes the key although every status patch fails, and says why in a Warning event', async () => {
    const h = harness({ statusFails: true });
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    await waitFor(() => h.values.get('/maintenance/svc')?.includes('"enabled":true'), {
      message: 'the key on',
    });
    await waitFor(() => h.events.includes('StatusWriteFailed'), { message: 'a StatusWriteFailed event' });
    const errors = (await h.metrics.reconcileErrors.get()).values;
    expect(errors.find((v) => v.labels.reason === 'KUBE_STATUS_PATCH')?.value).toBeGreaterThan(0);
    await h.controller.stop();
  });

  it('a failing etcd write shows as Reconciled=False with the error, and clears once the write succeeds', async () => {
    let failing = true;
    const h = harness({ etcdWriteFails: () => failing });
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    const reconciled = () =>
      (
        h.objects.get('ns/a')?.status?.conditions as
          { type: string; status: string; reason: string; message: string }[] | undefined
      )?.find((c) => c.type === 'Reconciled');
    await waitFor(() => reconciled()?.status === 'False', { message: 'Reconciled False' });
    expect(reconciled()).toMatchObject({
      reason: 'EtcdWriteFailed',
      message: expect.stringContaining('connection refused'),
    });
    expect(h.events).toContain('EtcdWriteFailed');
    failing = false;
    await waitFor(() => reconciled()?.status === 'True', {
      message: 'Reconciled True again',
      timeoutMs: 10_000,
    });
    expect(h.values.get('/maintenance/svc')).toContain('"enabled":true');
    await h.controller.stop();
  });

  it('turns the keys of a burst of new windows on before it patches their status', async () => {
    const h = harness();
    await h.controller.start();
    const names = Array.from({ length: 30 }, (_, i) => `w${i}`);
    for (const name of names) h.put(name, { target: { name } });
    await waitFor(() => names.every((n) => h.order.includes(`status ${n}`)), { message: 'every status' });
    // Every key goes on (provisionally) before the first finalizer patch returns, so before any status.
    const writes = h.order.filter((op) => !op.startsWith('finalizer '));
    const firstStatus = writes.findIndex((op) => op.startsWith('status '));
    expect(new Set(writes.slice(0, firstStatus))).toEqual(new Set(names.map((n) => `key /maintenance/${n}`)));
    await h.controller.stop();
  });

  it('adds the finalizer once, although the cache still holds the version without it', async () => {
    const h = harness({ cacheLags: true });
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    await waitFor(() => h.order.includes('status a'), { message: 'the status patched' });
    expect(h.values.get('/maintenance/svc')).toContain('"enabled":true');
    expect(h.finalizerUpdates).toEqual([['ns/a', [FINALIZER]]]);
    expect(h.events).not.toContain('FinalizerWriteFailed');
    await h.controller.stop();
  });

  it('turns the key on provisionally, for good once its finalizer is on, and writes nothing more', async () => {
    const finalizers = Promise.withResolvers<undefined>();
    const h = harness({ finalizersWait: finalizers.promise });
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    await waitFor(() => h.values.get('/maintenance/svc')?.includes('"enabled":true'), {
      message: 'the key on while the finalizer patch waits',
    });
    expect(h.provisional.has('/maintenance/svc')).toBe(true);
    expect(h.finalizerUpdates).toEqual([]);
    finalizers.resolve(undefined);
    await waitFor(() => h.writes.length === 2 && !h.provisional.has('/maintenance/svc'), {
      message: 'the key written again, for good',
    });
    expect(h.objects.get('ns/a')?.metadata.finalizers).toEqual([FINALIZER]);
    expect(h.order.slice(0, 3)).toEqual(['key /maintenance/svc', 'finalizer a', 'key /maintenance/svc']);
    expect(h.writes[1]?.[1]).toBe(h.writes[0]?.[1]);
    await waitFor(() => h.events.includes('WindowOpen'));
    const keyRuns = await h.reconciled('key');
    h.touch('a');
    await waitFor(async () => (await h.reconciled('key')) > keyRuns, { message: 'the key reconciled again' });
    h.touch('a');
    await waitFor(async () => (await h.reconciled('key')) > keyRuns + 1, { message: 'and once more' });
    expect(h.writes).toHaveLength(2);
    expect(h.events.filter((e) => e === 'WindowOpen')).toHaveLength(1);
    await h.controller.stop();
  });

  it('turns a provisional key off when its window goes before its finalizer is on', async () => {
    const finalizers = Promise.withResolvers<undefined>();
    const h = harness({ finalizersWait: finalizers.promise });
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    await waitFor(() => h.provisional.has('/maintenance/svc'), { message: 'the key on the lease' });
    h.drop('a');
    await waitFor(() => h.values.get('/maintenance/svc') === encodeSwitchValue(SWITCH_OFF), {
      message: 'the key off',
    });
    finalizers.resolve(undefined);
    await h.controller.stop();
  });

  it('writes the provisional keys again when their lease is lost', async () => {
    const finalizers = Promise.withResolvers<undefined>();
    const h = harness({ finalizersWait: finalizers.promise });
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    await waitFor(() => h.provisional.has('/maintenance/svc'), { message: 'the key on the lease' });
    h.loseLease();
    expect(h.values.has('/maintenance/svc')).toBe(false);
    await waitFor(() => h.provisional.has('/maintenance/svc'), { message: 'the key on a lease again' });
    expect(h.values.get('/maintenance/svc')).toContain('"enabled":true');
    finalizers.resolve(undefined);
    await h.controller.stop();
  });

  it('turns the key off before it lets the last window go', async () => {
    const h = harness();
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    await waitFor(() => h.writes.length === 2);
    h.remove('a');
    await waitFor(() => !h.objects.has('ns/a'), { message: 'window released' });
    expect(h.writes.map(([, v]) => v)).toEqual([
      expect.stringContaining('"enabled":true'),
      expect.stringContaining('"enabled":true'),
      encodeSwitchValue(SWITCH_OFF),
    ]);
    expect(h.finalizerUpdates.at(-1)).toEqual(['ns/a', []]);
    expect(h.events.filter((e) => e === 'Deleting').length).toBeLessThanOrEqual(2);
    await h.controller.stop();
  });

  it('keeps the key on while another window still holds it', async () => {
    const h = harness();
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    h.put('b', { target: { name: 'svc' }, mode: 'pause' });
    await waitFor(() => h.values.get('/maintenance/svc')?.includes('"window":"ns/a"'));
    h.remove('a');
    await waitFor(() => !h.objects.has('ns/a'));
    await waitFor(() => h.values.get('/maintenance/svc')?.includes('"window":"ns/b"'));
    expect(h.values.get('/maintenance/svc')).toContain('"enabled":true');
    await h.controller.stop();
  });

  it('never writes a key while it does not hold the lease', async () => {
    const h = harness({ leader: false });
    await h.controller.start();
    h.put('a', { target: { name: 'svc' } });
    await waitFor(async () => (await h.errors('NOT_LEADER')) >= 1, { message: 'a refused key write' });
    expect(h.writes).toEqual([]);
    await h.controller.stop();
  });
});
