import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSwitchValue, SWITCH_OFF } from '@kmaint/common';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import { kubectl } from '../../../test/env/tools.ts';
import { REASON } from '../../src/core/conditions.ts';
import { FINALIZER } from '../../src/kube/resources.ts';
import {
  CONDITION,
  condition,
  createNamespace,
  removeNamespaces,
  createWindow,
  deleteWindow,
  etcdClient,
  getWindow,
  httpPort,
  installCrd,
  kube,
  patchWindowSpec,
  readSwitch,
  recordKey,
  startLocalOperator,
  windowGone,
} from './support.ts';

const k = kube();
const etcd = etcdClient();
const OFF = encodeSwitchValue(SWITCH_OFF);
const iso = (ms: number): string => new Date(ms).toISOString();

/** A namespace and a key of its own, and an operator (in this process) watching that namespace. */
async function setup(prefix: string) {
  const namespace = uniqueName(prefix);
  await createNamespace(k, namespace);
  const operator = await startLocalOperator(namespace);
  const target = uniqueName('svc');
  return { namespace, operator, target, key: `/maintenance/${target}` };
}

describe('the operator turns windows into etcd keys (real apiserver and etcd, operator in-process)', () => {
  const operators: { stop(): Promise<void>; lines: string[] }[] = [];
  const started = async (prefix: string) => {
    const s = await setup(prefix);
    operators.push(s.operator);
    return s;
  };

  beforeAll(async () => {
    await installCrd(k);
  });
  afterAll(async () => {
    await removeNamespaces(k);
    for (const op of operators) await op.stop();
    etcd.close();
  });

  it('apply turns the key on with the documented JSON; delete turns it off and the finalizer lets go', async () => {
    const { namespace, target, key } = await started('mw-apply');
    await createWindow(k, namespace, 'upgrade', {
      target: { name: target },
      reason: 'broker upgrade',
      drainTimeout: '30s',
    });
    const value = await waitFor(async () => (await etcd.get(key).string()) ?? undefined, {
      message: `${key} to be written`,
    });
    expect(value).toBe(
      `{"v":1,"enabled":true,"mode":"drain","reason":"broker upgrade","window":"${namespace}/upgrade","drainTimeoutSeconds":30}`,
    );
    const obj = await waitFor(async () => {
      const w = await getWindow(k, namespace, 'upgrade');
      return condition(w.status, CONDITION.Active)?.status === 'True' ? w : undefined;
    });
    expect(obj.metadata.finalizers).toContain(FINALIZER);
    // With the finalizer on, the key hangs on no lease: it stays whatever becomes of this operator.
    await waitFor(async () => (await etcd.get(key).exec()).kvs[0]?.lease === '0', {
      message: `${key} written for good, off the provisional lease`,
    });
    expect(obj.status).toMatchObject({
      key,
      observedGeneration: obj.metadata.generation,
      nextTransition: 'open until deleted',
    });
    expect(condition(obj.status, CONDITION.Scheduled)).toMatchObject({
      status: 'True',
      reason: REASON.Unscheduled,
    });

    const described = await waitFor(
      async () => {
        const { stdout } = await kubectl(['describe', 'mw', 'upgrade', '-n', namespace]);
        return stdout.includes(REASON.WindowOpen) ? stdout : undefined;
      },
      { message: 'the WindowOpen event in kubectl describe' },
    );
    expect(described).toMatch(/Normal\s+WindowOpen/);

    const get = await kubectl(['get', 'mw', 'upgrade', '-n', namespace, '--no-headers']);
    expect(get.stdout).toContain(key);
    expect(get.stdout).toMatch(/drain\s+True\s+False\s+0\/0\s+open until deleted/);

    await deleteWindow(k, namespace, 'upgrade');
    await waitFor(() => windowGone(k, namespace, 'upgrade'), { message: 'the window to be deleted' });
    expect(await etcd.get(key).string()).toBe(OFF);
  });

  it('two windows on one key: the key stays on until both have ended', async () => {
    const { namespace, target, key } = await started('mw-two');
    const endsSoon = Date.now() + 6_000;
    await createWindow(k, namespace, 'short', { target: { name: target }, schedule: { end: iso(endsSoon) } });
    await createWindow(k, namespace, 'long', { target: { name: target }, mode: 'pause', reason: 'second' });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === true, { message: 'key on' });
    // While both are open the drain window speaks for the key (drain outranks pause).
    expect((await readSwitch(etcd, key))?.window).toBe(`${namespace}/short`);

    await waitFor(
      async () =>
        condition((await getWindow(k, namespace, 'short')).status, CONDITION.Active)?.reason ===
        REASON.WindowEnded,
      {
        message: 'the short window to end',
      },
    );
    const afterFirst = await waitFor(
      async () => {
        const v = await readSwitch(etcd, key);
        return v?.window === `${namespace}/long` ? v : undefined;
      },
      { message: 'the long window to take the key over' },
    );
    expect(afterFirst).toMatchObject({ enabled: true, mode: 'pause', reason: 'second' });

    await patchWindowSpec(k, namespace, 'long', { schedule: { end: iso(Date.now() + 1_000) } });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === false, {
      message: 'key off after both ended',
    });
    expect(await etcd.get(key).string()).toBe(OFF);
  });

  it('suspend turns the key off and resuming turns it on again', async () => {
    const { namespace, target, key } = await started('mw-suspend');
    await createWindow(k, namespace, 'w', { target: { name: target } });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === true, { message: 'key on' });
    await patchWindowSpec(k, namespace, 'w', { suspend: true });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === false, {
      message: 'key off when suspended',
    });
    const w = await waitFor(async () => {
      const obj = await getWindow(k, namespace, 'w');
      return condition(obj.status, CONDITION.Active)?.reason === REASON.Suspended ? obj : undefined;
    });
    expect(w.status?.nextTransition).toBe('suspended');
    await patchWindowSpec(k, namespace, 'w', { suspend: false });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === true, {
      message: 'key on when resumed',
    });
  });

  it('maxDuration ends a forgotten window, with a condition and a warning event', async () => {
    const { namespace, target, key } = await started('mw-max');
    await createWindow(k, namespace, 'forgotten', { target: { name: target }, maxDuration: '5s' });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === true, { message: 'key on' });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === false, {
      message: 'key off after maxDuration',
      timeoutMs: 30_000,
    });
    const w = await waitFor(async () => {
      const obj = await getWindow(k, namespace, 'forgotten');
      return condition(obj.status, CONDITION.Active)?.reason === REASON.MaxDurationExceeded ? obj : undefined;
    });
    expect(condition(w.status, CONDITION.Active)?.message).toContain('maxDuration 5s ended the window');
    const events = await waitFor(
      async () => {
        const { stdout } = await kubectl(['get', 'events', '-n', namespace, '-o', 'json']);
        const items = (JSON.parse(stdout) as { items: { reason: string; type: string }[] }).items;
        return items.find((e) => e.reason === REASON.MaxDurationExceeded);
      },
      { message: 'a MaxDurationExceeded event' },
    );
    expect(events.type).toBe('Warning');
  });

  it('a window a few seconds ahead turns the key on at its start and off at its end', async () => {
    const { namespace, target, key } = await started('mw-timed');
    const recording = await recordKey(etcd, key);
    const startMs = Date.now() + 5_000;
    const endMs = startMs + 5_000;
    await createWindow(k, namespace, 'timed', {
      target: { name: target },
      schedule: { start: iso(startMs), end: iso(endMs) },
    });
    const pending = await waitFor(async () => {
      const obj = await getWindow(k, namespace, 'timed');
      return condition(obj.status, CONDITION.Active)?.reason === REASON.NotStarted ? obj : undefined;
    });
    expect(pending.status?.nextTransition).toBe(`starts ${iso(startMs)}`);
    const onAt = await waitFor(
      async () => ((await readSwitch(etcd, key))?.enabled === true ? Date.now() : 0),
      {
        message: 'key on at start',
        intervalMs: 50,
      },
    );
    const offAt = await waitFor(
      async () => ((await readSwitch(etcd, key))?.enabled === false ? Date.now() : 0),
      {
        message: 'key off at end',
        intervalMs: 50,
      },
    );
    await recording.stop();
    console.log(`timed window: on ${onAt - startMs} ms after start, off ${offAt - endMs} ms after end`);
    expect(onAt).toBeGreaterThanOrEqual(startMs);
    expect(offAt).toBeGreaterThanOrEqual(endMs);
    expect(recording.values.map((v) => JSON.parse(v).enabled)).toEqual([true, false]);
  });

  it('a cron window opens twice', async () => {
    const { namespace, target, key } = await started('mw-cron');
    const recording = await recordKey(etcd, key);
    await createWindow(k, namespace, 'cron', {
      target: { name: target },
      schedule: { cron: '*/10 * * * * *', duration: '4s' },
    });
    // Created during an occurrence, the window's key is written twice with the same value: on the
    // operator's lease before the finalizer, for good after it (docs/operator.md). That is no flap.
    const changes = () => recording.values.filter((v, i) => v !== recording.values[i - 1]);
    await waitFor(
      () => changes().filter((v) => JSON.parse(v).enabled === true).length >= 2 && changes().length >= 3,
      {
        message: 'two openings of the cron window',
        timeoutMs: 60_000,
      },
    );
    await recording.stop();
    const seq = changes().map((v) => (JSON.parse(v).enabled ? 'on' : 'off'));
    console.log(`cron window writes: ${recording.values.length}, changes: ${seq.join(' ')}`);
    // Strictly alternating: every opening and closing a change of its own.
    for (let i = 1; i < seq.length; i++) expect(seq[i]).not.toBe(seq[i - 1]);
    const w = await getWindow(k, namespace, 'cron');
    expect(condition(w.status, CONDITION.Scheduled)).toMatchObject({
      status: 'True',
      reason: REASON.Recurring,
    });
  });

  it('serves /livez, /readyz and /metrics', async () => {
    const { operator } = await started('mw-http');
    const base = `http://127.0.0.1:${httpPort(operator)}`;
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, { message: '/readyz 200' });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'kmaint_operator_reconciles_total',
      'kmaint_operator_reconcile_duration_seconds',
      'kmaint_operator_errors_total',
      'kmaint_operator_windows',
      'kmaint_operator_queue_depth',
      'kmaint_operator_leader 1',
    ]) {
      expect(metrics).toContain(name);
    }
  });
});
