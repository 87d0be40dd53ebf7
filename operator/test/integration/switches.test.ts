import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../test/env/helpers.ts';
import { EtcdSwitches } from '../../src/etcd/switches.ts';
import { etcdClient } from './support.ts';

// The operator's etcd store against the real etcd: an on is one compare-and-put, and what etcd holds
// afterwards (value, lease, revision) is what the reconciler relies on.
const etcd = etcdClient();
const store = new EtcdSwitches(etcdClient(), pino({ level: 'silent' }));
const on = JSON.stringify({ enabled: true, mode: 'drain', window: 'ns/a', drainTimeoutSeconds: 45 });

afterAll(() => {
  store.close();
  etcd.close();
});

const held = async (key: string) => {
  const kv = (await etcd.get(key).exec()).kvs[0];
  return kv === undefined ? null : { value: kv.value.toString(), lease: kv.lease, mod: kv.mod_revision };
};

describe('EtcdSwitches.ensure (real etcd)', () => {
  it('writes a missing key, then leaves it alone while it holds the value on the lease asked for', async () => {
    const key = `/maintenance/${uniqueName('ensure')}`;
    expect(await store.ensure(key, on, false)).toEqual({ written: true, previous: null });
    const first = await held(key);
    expect(first).toMatchObject({ value: on, lease: '0' });
    expect(await store.ensure(key, on, false)).toEqual({ written: false, previous: on });
    expect(await held(key)).toEqual(first);
  });

  it('moves an on between its lease and none, and writes a changed value with what it replaced', async () => {
    const key = `/maintenance/${uniqueName('ensure')}`;
    expect((await store.ensure(key, on, true)).written).toBe(true);
    const provisional = await held(key);
    expect(provisional?.lease).not.toBe('0');
    expect((await store.ensure(key, on, true)).written).toBe(false);
    expect(await held(key)).toEqual(provisional);
    // The finalizer is on: the same value, for good.
    expect(await store.ensure(key, on, false)).toEqual({ written: true, previous: on });
    expect(await held(key)).toMatchObject({ value: on, lease: '0' });
    // And back onto the lease when the decision is provisional again (only a new window wants it on).
    expect((await store.ensure(key, on, true)).written).toBe(true);
    expect((await held(key))?.lease).toBe(provisional?.lease);
    const changed = on.replace('drain', 'pause');
    expect(await store.ensure(key, changed, false)).toEqual({ written: true, previous: on });
    expect(await held(key)).toMatchObject({ value: changed, lease: '0' });
  });

  it("writes again a key that holds the value on another instance's lease", async () => {
    const key = `/maintenance/${uniqueName('ensure')}`;
    const other = etcd.lease(60, { autoKeepAlive: false });
    await other.put(key).value(on).exec();
    const theirs = await other.grant();
    expect((await held(key))?.lease).toBe(theirs);
    expect((await store.ensure(key, on, true)).written).toBe(true);
    const mine = (await held(key))?.lease;
    expect(mine).not.toBe(theirs);
    expect(mine).not.toBe('0');
    await other.put(key).value(on).exec();
    expect(await store.ensure(key, on, false)).toEqual({ written: true, previous: on });
    expect(await held(key)).toMatchObject({ value: on, lease: '0' });
    await other.revoke();
    // Its lease gone, the key is still there: it hangs on none now.
    expect(await held(key)).toMatchObject({ value: on, lease: '0' });
  });

  it('reads a missing key as null and writes an off with no lease', async () => {
    const key = `/maintenance/${uniqueName('ensure')}`;
    expect(await store.read(key)).toBeNull();
    await store.ensure(key, on, true);
    await store.write(key, 'false');
    expect(await store.read(key)).toBe('false');
    expect(await held(key)).toMatchObject({ value: 'false', lease: '0' });
  });
});
