import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import {
  createNamespace,
  etcdClient,
  getWindow,
  installCrd,
  kube,
  readSwitch,
  removeNamespaces,
  reportMember,
  repoRoot,
  startLocalOperator,
} from '../../../operator/test/integration/support.ts';

// `kubectl kmaint` as a user runs it: the real kubectl finds cli/bin/kubectl-kmaint on PATH, against the
// real apiserver and etcd, with an operator that turns the windows it opens into switch keys.

const k = kube();
let etcd: Etcd3;
const stops: (() => Promise<void>)[] = [];

function env(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${join(repoRoot, 'cli', 'bin')}:${inject('toolsBin')}:${process.env['PATH'] ?? ''}`,
    KUBECONFIG: inject('kubeconfig'),
    ETCD_ENDPOINTS: inject('etcdEndpoints'),
  };
}

function kubectlKmaint(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('kubectl', ['kmaint', ...args], { env: env() });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out }));
  });
}

beforeAll(async () => {
  etcd = etcdClient();
  await installCrd(k);
});
afterAll(async () => {
  for (const stop of stops) await stop();
  await removeNamespaces(k);
  etcd?.close();
});

describe('kubectl kmaint against the real apiserver and etcd', () => {
  it('opens a window for an hour, shows and watches its members drain, and closes it', async () => {
    const ns = uniqueName('plugin');
    await createNamespace(k, ns);
    const operator = await startLocalOperator(ns);
    stops.push(() => operator.stop());
    const target = uniqueName('orders');
    const key = `/maintenance/${target}`;

    const before = Date.now();
    const opened = await kubectlKmaint([
      'open',
      target,
      '--reason',
      'broker upgrade',
      '--for',
      '1h',
      '-n',
      ns,
    ]);
    expect(opened.out).toContain(`opened for ${key} until`);
    expect(opened.code).toBe(0);
    const name = /maintenancewindow \S+\/(\S+) opened/.exec(opened.out)?.[1] as string;
    const window = (await getWindow(k, ns, name)) as unknown as { spec: { schedule: { end: string } } };
    const end = Date.parse(window.spec.schedule.end);
    expect(end - before).toBeGreaterThanOrEqual(3_599_000);
    expect(end - Date.now()).toBeLessThanOrEqual(3_600_000);
    await waitFor(async () => (await readSwitch(etcd, key))?.['enabled'] === true, { message: 'the key on' });
    expect(await readSwitch(etcd, key)).toMatchObject({ reason: 'broker upgrade', window: `${ns}/${name}` });

    // Without a selector the members reporting under the key are the window's population.
    const leaseA = await reportMember(etcd, key, 'orders-a', 'maintenance');
    const status = await waitFor(
      async () => {
        const r = await kubectlKmaint(['status', '-n', ns]);
        return r.code === 0 && /drained/.test(r.out) ? r.out : undefined;
      },
      { message: 'status to show the window drained', timeoutMs: 30_000 },
    );
    expect(status).toMatch(new RegExp(`${ns} +${name} +${key} +drain +drained`));
    expect(status).toMatch(/orders-a +maintenance +0/);
    expect(status).toContain('drain progress: 1/1 members drained');

    // watch redraws as a second member appears and drains.
    const watch = spawn('kubectl', ['kmaint', 'watch', target, '-n', ns, '--interval', '300ms'], {
      env: env(),
    });
    let watched = '';
    watch.stdout.on('data', (c: Buffer) => (watched += c.toString()));
    try {
      await waitFor(() => watched.includes('orders-a'), { message: 'watch to draw the window' });
      const leaseB = await reportMember(etcd, key, 'orders-b', 'draining');
      await waitFor(() => /orders-b +draining/.test(watched), { message: 'watch to show orders-b draining' });
      await reportMember(etcd, key, 'orders-b', 'maintenance', leaseB);
      await waitFor(() => watched.includes('drain progress: 2/2 members drained'), {
        message: 'watch to show both drained',
      });
    } finally {
      watch.kill('SIGINT');
    }
    await leaseA.revoke();

    const closed = await kubectlKmaint(['close', target, '-n', ns]);
    expect(closed.out).toContain('closed');
    expect(closed.code).toBe(0);
    expect((await readSwitch(etcd, key))?.['enabled']).toBe(false);

    const again = await kubectlKmaint(['close', target, '-n', ns]);
    expect(again.out).toContain(`no window opened by kubectl kmaint for ${target} in ${ns}`);
    expect(again.code).toBe(1);
  });

  it('refuses bad input with a usage message (exit 2) and names what the apiserver refused (exit 1)', async () => {
    const bad = await kubectlKmaint(['open', 'x', '--for', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('--for must be a positive duration like 30m or 1h, not "soon"');
    const missing = await kubectlKmaint(['open', 'x', '-n', uniqueName('no-such-namespace')]);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/error: namespaces? ".*" not found/);
  });
});
