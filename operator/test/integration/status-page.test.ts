import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../test/env/helpers.ts';
import {
  createNamespace,
  createPod,
  createWindow,
  etcdClient,
  httpPort,
  installCrd,
  kube,
  removeNamespaces,
  reportMember,
  repoRoot,
  setPodReady,
  startLocalOperator,
} from './support.ts';

// The operator's status page in Debian's headless Chromium against the real apiserver and etcd: the
// page is open before the window exists, and it changes on its own (no reload) as the window is
// applied and the members drain. Screenshots of each step go to test/artifacts/status-page/.

const k = kube();
const artifacts = join(repoRoot, 'test', 'artifacts', 'status-page');
const chromiumFlags = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let etcd: Etcd3;
let profile = '';
let browser: BrowserContext | undefined;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  // Debian's chromium, installed when missing (as root); the test fails, never skips, without it.
  const { stdout } = await promisify(execFile)('bash', [join(repoRoot, 'test/env/install-chromium.sh')], {
    timeout: 600_000,
  });
  const executablePath = stdout.trim().split('\n').pop() ?? '/usr/bin/chromium';
  mkdirSync(artifacts, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'kmaint-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: chromiumFlags,
    viewport: { width: 1100, height: 760 },
  });
  etcd = etcdClient();
  await installCrd(k);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  if (profile !== '') rmSync(profile, { recursive: true, force: true });
  for (const stop of stops) await stop();
  await removeNamespaces(k);
  etcd?.close();
});

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

describe('the status page in a real browser', () => {
  it('shows a window appear, its members drain and the window turn drained, without a reload', async () => {
    const namespace = uniqueName('status-page');
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace);
    stops.push(() => operator.stop());
    const app = uniqueName('orders');
    const key = `/maintenance/${app}`;
    const pods = ['orders-0', 'orders-1'];
    for (const pod of pods) {
      await createPod(k, namespace, pod, { app });
      await setPodReady(k, namespace, pod, true);
    }

    const page = await (browser as BrowserContext).newPage();
    await page.goto(`http://127.0.0.1:${httpPort(operator)}/status`);
    await page.getByText('No MaintenanceWindows').waitFor();
    await shot(page, '1-no-window');
    // A mark in the page's own JS state: still there at the end means the page was never reloaded.
    await page.evaluate(() => Object.assign(globalThis, { kmaintMark: 'kept' }));

    const name = 'broker-upgrade';
    await createWindow(k, namespace, name, {
      target: { name: app, selector: { matchLabels: { app } } },
      reason: 'Kafka 4.1 rolling upgrade',
    });
    const card = page.locator(`section[data-window="${namespace}/${name}"]`);
    await card.waitFor({ timeout: 30_000 });
    await page
      .locator(`section[data-window="${namespace}/${name}"][data-state="draining"]`)
      .waitFor({ timeout: 30_000 });
    expect(await card.innerText()).toContain('Kafka 4.1 rolling upgrade');
    expect(await card.innerText()).toContain(key);

    // One member drained, one still draining with messages in hand.
    await setPodReady(k, namespace, 'orders-0', false);
    await reportMember(etcd, key, 'orders-0', 'maintenance');
    await reportMember(etcd, key, 'orders-1', 'draining');
    await card.locator('tr[data-member="orders-0"][data-state="maintenance"]').waitFor({ timeout: 30_000 });
    await card.locator('tr[data-member="orders-1"][data-state="draining"]').waitFor({ timeout: 30_000 });
    await shot(page, '2-draining');

    await setPodReady(k, namespace, 'orders-1', false);
    await reportMember(etcd, key, 'orders-1', 'maintenance');
    await page
      .locator(`section[data-window="${namespace}/${name}"][data-state="drained"]`)
      .waitFor({ timeout: 30_000 });
    expect(await card.innerText()).toMatch(/2\/2 drained/);
    expect(await card.locator('tr[data-member="orders-1"] td').nth(3).innerText()).toMatch(/^\d+\.\d s$/);
    await shot(page, '3-drained');

    expect(await page.evaluate(() => (globalThis as { kmaintMark?: string }).kmaintMark)).toBe('kept');
    const json = (await (await fetch(`http://127.0.0.1:${httpPort(operator)}/status.json`)).json()) as {
      windows: { name: string; state: string; members: { state: string }[] }[];
    };
    expect(json.windows.map((w) => [w.name, w.state, w.members.map((m) => m.state)])).toEqual([
      [name, 'drained', ['maintenance', 'maintenance']],
    ]);
  });
});
