import { createEtcdClient } from '@kmaint/common/etcd-client';
import { SwitchWatcher } from '@kmaint/common/etcd';
import type { Desired } from '@kmaint/common';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import {
  createNamespace,
  createWindow,
  etcdClient,
  installCrd,
  kube,
  readSwitch,
  removeNamespaces,
  startLocalOperator,
} from './support.ts';

const k = kube();
const etcd = etcdClient();

describe('consumers are safe without the operator (real apiserver and etcd)', () => {
  beforeAll(async () => {
    await installCrd(k);
  });
  afterAll(async () => {
    await removeNamespaces(k);
    etcd.close();
  });

  it('the operator stopped mid-window: the switch follower resumes at the hard end and says so', async () => {
    const namespace = uniqueName('mw-loss');
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace);
    const target = uniqueName('svc');
    const key = `/maintenance/${target}`;
    const end = new Date(Date.now() + 8_000).toISOString().replace(/\.\d{3}Z$/, 'Z');

    // The follower every consumer uses (the service, the library, the agent), on its own etcd client.
    const client = createEtcdClient({ endpoints: inject('etcdEndpoints').split(','), callDeadlineMs: 5_000 });
    const seen: Desired[] = [];
    const follower = new SwitchWatcher(
      client,
      { key, unavailable: 'keep', logger: pino({ level: 'silent' }) },
      {
        desired: (d) => seen.push(d),
        invalid: () => undefined,
        health: () => undefined,
        restart: () => undefined,
      },
    );
    await follower.start();
    try {
      await createWindow(k, namespace, 'w', { target: { name: target }, schedule: { end } });
      const on = await waitFor(() => seen.find((d) => d.maintenance), {
        message: 'the consumer told to drain',
      });
      expect(Date.parse(on.until ?? '')).toBe(Date.parse(end));

      await operator.stop();
      const resumed = await waitFor(() => seen.find((d) => d.resumedAtHardEnd !== undefined), {
        message: 'the consumer resuming on its own',
      });
      expect(resumed).toMatchObject({ maintenance: false, window: `${namespace}/w` });
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(end));
      // Nobody turned the key off: the consumer resumed because the hard end passed.
      expect(await readSwitch(etcd, key)).toMatchObject({ enabled: true });
    } finally {
      await follower.close();
      client.close();
    }
  });
});
