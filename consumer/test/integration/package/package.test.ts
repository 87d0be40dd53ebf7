import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { encodeSwitchValue, memberKey, parseMemberReport } from '@kmaint/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../../test/env/ports.ts';
import {
  brokers,
  createTopic,
  etcdEndpoints,
  fullyCommitted,
  groupMembers,
  produce,
  setSwitch,
  uniqueName,
  useTools,
  waitFor,
} from '../engine/harness.ts';

/**
 * The published package as a user gets it: `npm pack` of consumer/, installed from the tarball into an
 * empty project outside the repo (no workspace, no link), then a consumer script of that project taken
 * through a whole maintenance cycle against the real Kafka and etcd, on Node 24 and on Node 22.
 */

const repoRoot = join(import.meta.dirname, '../../../..');
const node24 = join(repoRoot, 'node_modules/node/bin/node');
const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
const run = promisify(execFile);
const t = useTools();

/**
 * The environment of a user's shell: the runner's, without what npm and vitest add (npm_* variables, the
 * repo's node_modules/.bin on PATH), so npm runs with the user's own node and configuration.
 */
function userEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|INIT_CWD$|NODE_OPTIONS$|VITEST)/i.test(k)) env[k] = v;
  }
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(':')
    .filter((dir) => !dir.includes('node_modules'))
    .join(':');
  return env;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund'], {
    cwd,
    env: userEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  return stdout;
}

/** A Node 22 binary from the npm registry's `node` package, installed once per machine. */
async function node22(): Promise<string> {
  const dir = join(tmpdir(), 'kmaint-node22');
  const bin = join(dir, 'node_modules/node/bin/node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "private": true }\n');
    await npm(['install', 'node@22'], dir);
  }
  return bin;
}

let work: string;
let app: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kmaint-pack-'));
  // The build runs on the repo's Node (it strips types); npm then packs what it built, as prepack would.
  await run(node24, [join(repoRoot, 'consumer/scripts/build.ts')]);
  const packed = await npm(
    ['pack', '--ignore-scripts', '--pack-destination', work],
    join(repoRoot, 'consumer'),
  );
  const tarball = packed.trim().split('\n').at(-1) as string;
  app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  for (const file of ['consumer.mjs', 'check.ts', 'tsconfig.json']) {
    copyFileSync(join(import.meta.dirname, 'app', file), join(app, file));
  }
  await npm(['install', join(work, tarball), '@types/node@24'], app);
}, 300_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

interface Line {
  event: string;
  [field: string]: unknown;
}

class App {
  readonly lines: Line[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  readonly port: number;
  readonly #child: ChildProcess;

  constructor(node: string, port: number, env: Record<string, string>) {
    this.port = port;
    this.#child = spawn(node, ['consumer.mjs'], {
      cwd: app,
      env: { PATH: userEnv()['PATH'], HOME: process.env['HOME'], PORT: String(port), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
    createInterface({ input: this.#child.stdout as Readable }).on('line', (line) => {
      // pino's own lines are JSON too; the script's lines are those with an `event`.
      const parsed = JSON.parse(line) as Partial<Line>;
      if (typeof parsed.event === 'string') this.lines.push(parsed as Line);
    });
    createInterface({ input: this.#child.stderr as Readable }).on('line', (line) => this.stderr.push(line));
  }

  processed(): Set<string> {
    return new Set(this.lines.filter((l) => l.event === 'processed').map((l) => String(l.value)));
  }

  lastState(): unknown {
    return this.lines.filter((l) => l.event === 'transition').at(-1)?.to;
  }

  async readyz(): Promise<number> {
    return (await fetch(`http://127.0.0.1:${this.port}/readyz`)).status;
  }

  stop(): void {
    this.#child.kill('SIGTERM');
  }
}

describe('the packed @kmaint/consumer', () => {
  it('type-checks an application against its .d.ts', async () => {
    await expect(run(node24, [tsc, '-p', 'tsconfig.json'], { cwd: app })).resolves.toBeDefined();
  });

  it.each([
    ['24', async () => node24],
    ['22', node22],
  ])('runs a full maintenance cycle on Node %s', async (version, binary) => {
    const node = await binary();
    const topic = uniqueName(`packed-${version}`);
    const group = uniqueName(`g-packed-${version}`);
    const key = `/maintenance/${uniqueName('packed')}`;
    const memberId = uniqueName('packed-member');
    await createTopic(t, topic, 3);
    await produce(t, topic, 30, { prefix: 'before', partitions: 3 });

    const a = new App(node, await freePort(), {
      BROKERS: brokers().join(','),
      ETCD: etcdEndpoints().join(','),
      TOPIC: topic,
      GROUP: group,
      KEY: key,
      MEMBER_ID: memberId,
    });
    try {
      const started = await waitFor(() => a.lines.find((l) => l.event === 'started'), {
        timeoutMs: 60_000,
        message: `the packed consumer to start on Node ${version} (stderr: ${a.stderr.join('\n')})`,
      });
      expect(started.node).toMatch(new RegExp(`^v${version}\\.`));
      await waitFor(() => a.processed().size === 30, {
        timeoutMs: 60_000,
        message: 'the first 30 processed',
      });
      await waitFor(() => fullyCommitted(t, group, topic), { message: 'the first 30 committed' });
      expect(await a.readyz()).toBe(200);

      // Switch on: drained, out of the group, not ready, and the member report says so.
      await setSwitch(t, key, { enabled: true, mode: 'drain', reason: 'packed test' });
      await waitFor(() => a.lastState() === 'maintenance', { message: 'state maintenance' });
      await waitFor(async () => (await groupMembers(t, group)).clientIds.length === 0, {
        message: 'the consumer to leave its group',
      });
      expect(await a.readyz()).toBe(503);
      const report = await t.etcd.get(memberKey(key, memberId)).string();
      expect(report === null ? null : parseMemberReport(report)).toMatchObject({
        ok: true,
        value: { id: memberId, state: 'maintenance' },
      });
      await produce(t, topic, 30, { prefix: 'during', partitions: 3 });

      // Switch off: back in the group, and everything, including what arrived meanwhile, is processed.
      await setSwitch(t, key, encodeSwitchValue({ enabled: false, mode: 'drain' }));
      await waitFor(() => a.processed().size === 60, { timeoutMs: 60_000, message: 'all 60 processed' });
      await waitFor(() => fullyCommitted(t, group, topic), { message: 'all 60 committed' });
      await waitFor(async () => (await a.readyz()) === 200, { message: 'ready again' });
      expect(a.lines.filter((l) => l.event === 'transition').map((l) => l.to)).toEqual([
        'joining',
        'running',
        'draining',
        'maintenance',
        'resuming',
        'running',
      ]);
    } finally {
      a.stop();
    }
    expect(await a.exited).toBe(0);
    expect(a.lines.at(-1)).toMatchObject({ event: 'stopped', live: false });
    expect(await t.etcd.get(memberKey(key, memberId)).string()).toBeNull();
  });
});
