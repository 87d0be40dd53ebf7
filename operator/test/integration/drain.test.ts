import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import { kubectl } from '../../../test/env/tools.ts';
import { REASON } from '../../src/core/conditions.ts';
import {
  CONDITION,
  condition,
  createNamespace,
  removeNamespaces,
  createPod,
  createWindow,
  etcdClient,
  getWindow,
  installCrd,
  kube,
  reportMember,
  setPodReady,
  startLocalOperator,
  type WindowStatusView,
} from './support.ts';

const k = kube();
const etcd = etcdClient();

async function statusWhen(
  namespace: string,
  name: string,
  ok: (s: WindowStatusView) => boolean,
  message: string,
) {
  return waitFor(
    async () => {
      const s = (await getWindow(k, namespace, name)).status;
      return s !== undefined && ok(s) ? s : undefined;
    },
    { message, timeoutMs: 30_000 },
  );
}

describe('window status follows the selected pods and their member reports (real apiserver and etcd)', () => {
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    await installCrd(k);
  });
  afterAll(async () => {
    await removeNamespaces(k);
    for (const stop of stops) await stop();
    etcd.close();
  });

  async function scenario(prefix: string, pods: string[]) {
    const namespace = uniqueName(prefix);
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace);
    stops.push(() => operator.stop());
    const app = uniqueName('consumer');
    const key = `/maintenance/${app}`;
    for (const pod of pods) {
      await createPod(k, namespace, pod, { app });
      await setPodReady(k, namespace, pod, true);
      await reportMember(etcd, key, pod, 'running');
    }
    // A pod outside the selector must not count.
    await createPod(k, namespace, 'bystander', { app: 'other' });
    return { namespace, app, key };
  }

  /** What a consumer does in a drain: report maintenance, then fail readiness. */
  async function drain(namespace: string, key: string, pod: string) {
    await reportMember(etcd, key, pod, 'maintenance');
    await setPodReady(k, namespace, pod, false);
  }

  it('counts pods as they drain, sets Drained, and kubectl wait --for=condition=Drained returns', async () => {
    const pods = ['consumer-0', 'consumer-1', 'consumer-2'];
    const { namespace, app, key } = await scenario('mw-drain', pods);
    await createWindow(k, namespace, 'drain', {
      target: { name: app, selector: { matchLabels: { app } } },
      drainTimeout: '5m',
    });
    const first = await statusWhen(namespace, 'drain', (s) => s.pods?.selected === 3, 'three pods selected');
    expect(first.pods).toMatchObject({
      selected: 3,
      notReady: 0,
      drained: 0,
      summary: '0/3',
      draining: pods,
    });
    expect(condition(first, CONDITION.Drained)).toMatchObject({ status: 'False', reason: REASON.Draining });

    // Reported drained but still Ready does not count: both sources must agree.
    await reportMember(etcd, key, 'consumer-0', 'maintenance');
    await statusWhen(namespace, 'drain', (s) => s.pods?.notReady === 0, 'status after a report alone');
    await setPodReady(k, namespace, 'consumer-0', false);
    const one = await statusWhen(namespace, 'drain', (s) => s.pods?.drained === 1, 'one pod drained');
    expect(one.pods).toMatchObject({
      selected: 3,
      notReady: 1,
      drained: 1,
      summary: '1/3',
      draining: ['consumer-1', 'consumer-2'],
    });

    await drain(namespace, key, 'consumer-1');
    await statusWhen(namespace, 'drain', (s) => s.pods?.drained === 2, 'two pods drained');

    const started = Date.now();
    const wait = kubectl(['wait', '--for=condition=Drained', `mw/drain`, '-n', namespace, '--timeout=60s']);
    await drain(namespace, key, 'consumer-2');
    const { stdout } = await wait;
    console.log(`kubectl wait returned ${Date.now() - started} ms after the last pod drained`);
    expect(stdout).toContain('condition met');
    const done = (await getWindow(k, namespace, 'drain')).status;
    expect(done?.pods).toMatchObject({ selected: 3, notReady: 3, drained: 3, summary: '3/3', draining: [] });
    expect(condition(done, CONDITION.Drained)).toMatchObject({ status: 'True', reason: REASON.AllDrained });
    expect(condition(done, CONDITION.Degraded)).toMatchObject({ status: 'False' });
    const get = await kubectl(['get', 'mw', 'drain', '-n', namespace, '--no-headers']);
    expect(get.stdout).toMatch(/drain\s+True\s+True\s+3\/3/);
  });

  it('names the pod that never drains in Degraded once the drain timeout has passed', async () => {
    const pods = ['fast-0', 'stuck-1'];
    const { namespace, app, key } = await scenario('mw-degraded', pods);
    await createWindow(k, namespace, 'slow', {
      target: { name: app, selector: { matchExpressions: [{ key: 'app', operator: 'In', values: [app] }] } },
      drainTimeout: '4s',
    });
    await statusWhen(namespace, 'slow', (s) => s.pods?.selected === 2, 'two pods selected');
    await drain(namespace, key, 'fast-0');
    const degraded = await statusWhen(
      namespace,
      'slow',
      (s) => condition(s, CONDITION.Degraded)?.status === 'True',
      'Degraded after the drain timeout',
    );
    expect(condition(degraded, CONDITION.Degraded)).toMatchObject({ reason: REASON.DrainTimeoutExceeded });
    expect(condition(degraded, CONDITION.Degraded)?.message).toContain('stuck-1');
    expect(condition(degraded, CONDITION.Degraded)?.message).not.toContain('fast-0');
    expect(degraded.pods).toMatchObject({ drained: 1, draining: ['stuck-1'] });
    const { stdout } = await waitFor(
      async () => {
        const out = await kubectl(['describe', 'mw', 'slow', '-n', namespace]);
        return out.stdout.includes(REASON.DrainTimeoutExceeded) ? out : undefined;
      },
      { message: 'the DrainTimeoutExceeded event' },
    );
    expect(stdout).toMatch(/Warning\s+DrainTimeoutExceeded/);

    // When the straggler finally drains, Degraded clears and Drained is set.
    await drain(namespace, key, 'stuck-1');
    const healed = await statusWhen(
      namespace,
      'slow',
      (s) => condition(s, CONDITION.Drained)?.status === 'True',
      'Drained at last',
    );
    expect(condition(healed, CONDITION.Degraded)?.status).toBe('False');
  });

  it('without a selector, the members reporting under the key are the population', async () => {
    const namespace = uniqueName('mw-members');
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace);
    stops.push(() => operator.stop());
    const target = uniqueName('compose');
    const key = `/maintenance/${target}`;
    await reportMember(etcd, key, 'host-a', 'running');
    await reportMember(etcd, key, 'host-b', 'running');
    await createWindow(k, namespace, 'bare', { target: { name: target } });
    await statusWhen(namespace, 'bare', (s) => s.pods?.selected === 2 && s.pods.drained === 0, 'two members');
    await reportMember(etcd, key, 'host-a', 'maintenance');
    await reportMember(etcd, key, 'host-b', 'maintenance');
    const s = await statusWhen(
      namespace,
      'bare',
      (st) => condition(st, CONDITION.Drained)?.status === 'True',
      'members drained',
    );
    expect(s.pods).toMatchObject({ selected: 2, drained: 2 });
  });
});
