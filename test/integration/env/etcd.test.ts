import { Etcd3 } from 'etcd3';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { restartEtcd } from '../../env/control.ts';
import { uniqueName, waitFor } from '../../env/helpers.ts';

describe('etcd of the test environment', () => {
  const client = new Etcd3({ hosts: inject('etcdEndpoints') });
  const key = `/kmaint-env-smoke/${uniqueName('key')}`;

  afterAll(() => client.close());

  it('puts a key that a watcher started at its revision sees', async () => {
    const put = await client.put(key).value('on').exec();
    await client.put(key).value('off');
    const revision = Number(put.header.revision);

    const values: string[] = [];
    const watcher = await client.watch().key(key).startRevision(String(revision)).create();
    watcher.on('put', (kv) => values.push(kv.value.toString()));
    try {
      await waitFor(() => values.length >= 2, { message: 'both historic puts', timeoutMs: 10_000 });
    } finally {
      await watcher.cancel();
    }
    expect(values).toEqual(['on', 'off']);
  });

  it('keeps data across a restart through the control channel, and clients reconnect', async () => {
    await restartEtcd();
    const value = await waitFor(() => client.get(key).string(), { message: 'the key after restart' });
    expect(value).toBe('off');
  });
});
