import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { inject } from 'vitest';
import { freePort } from '../../../test/env/ports.ts';
import { waitFor } from '../../../test/env/helpers.ts';

export const repoRoot = join(import.meta.dirname, '..', '..', '..');

export interface Running {
  child: ChildProcess;
  /** Lines the process wrote (stdout and stderr), as they come. */
  output: string[];
  exited: Promise<number | null>;
}

export interface AgentProcess extends Running {
  url: string;
}

/** A process whose output a test reads line by line. */
export function run(command: string, args: string[], env: Record<string, string>): Running {
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    output.push(...lines);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output, exited };
}

/** Starts `node agent/src/main.ts` on a free port against the test etcd; resolves once /livez answers. */
export async function startAgent(env: Record<string, string>): Promise<AgentProcess> {
  const port = await freePort();
  const proc = run(
    join(repoRoot, 'node_modules', '.bin', 'node'),
    [join(repoRoot, 'agent', 'src', 'main.ts')],
    {
      ETCD_ENDPOINTS: inject('etcdEndpoints'),
      AGENT_PORT: String(port),
      LOG_LEVEL: 'debug',
      ...env,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/livez`)).ok, {
    message: `the agent to listen on ${port}; output: ${proc.output.join('\n')}`,
  });
  return { ...proc, url };
}

export async function stop(proc: Running): Promise<number | null> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill('SIGTERM');
  return proc.exited;
}

export function etcdClient(): Etcd3 {
  return new Etcd3({ hosts: inject('etcdEndpoints') });
}

/** The raw member report under <key>/members/<id>, or null. */
export async function memberReport(etcd: Etcd3, key: string, id: string): Promise<string | null> {
  return etcd.get(`${key}/members/${id}`).string();
}
