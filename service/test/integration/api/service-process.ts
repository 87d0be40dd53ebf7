import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { waitFor } from '../../../../test/env/helpers.ts';
import { freePort } from '../../../../test/env/ports.ts';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));

// Response bodies are whatever JSON the service sent; tests assert on them field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Date.now() when the process ended. */
  at: number;
}

/**
 * The real service as a child process (`node --conditions=@kmaint/source service/src/main.ts`), configured only
 * through its environment, as Kubernetes and GoMaint's Quick Start run it.
 */
export class ServiceProcess {
  readonly url: string;
  readonly port: number;
  readonly logs: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<Exit>;
  readonly #child: ChildProcess;

  private constructor(port: number, child: ChildProcess) {
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.#child = child;
    this.exited = once(child, 'exit').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
      at: Date.now(),
    }));
    createInterface({ input: child.stdout as Readable }).on('line', (line) => {
      try {
        this.logs.push(JSON.parse(line) as LogLine);
      } catch {
        this.logs.push({ level: 'raw', msg: line });
      }
    });
    createInterface({ input: child.stderr as Readable }).on('line', (line) => this.stderr.push(line));
  }

  /** Starts the service against the test environment's Kafka and etcd; resolves once /livez answers. */
  static async start(env: Record<string, string>): Promise<ServiceProcess> {
    const port = await freePort();
    const child = spawn(
      join(repoRoot, 'node_modules/.bin/node'),
      ['--conditions=@kmaint/source', 'service/src/main.ts'],
      {
        cwd: repoRoot,
        // Nothing of the test runner's environment leaks in: the service sees what a pod would.
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          KAFKA_BROKERS: inject('kafkaBrokers'),
          ETCD_ENDPOINTS: inject('etcdEndpoints'),
          HTTP_PORT: String(port),
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const service = new ServiceProcess(port, child);
    let ended: Exit | undefined;
    void service.exited.then((exit) => (ended = exit));
    await waitFor(
      async () => {
        if (ended)
          throw new Error(`the service exited (${JSON.stringify(ended)}): ${service.stderr.join('\n')}`);
        return (await fetch(`${service.url}/livez`)).ok;
      },
      { timeoutMs: 30_000, message: 'the service to answer /livez' },
    );
    return service;
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Ends the process if a test left it running (a failed test must not leave a consumer behind). */
  async kill(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) {
      this.#child.kill('SIGKILL');
      await this.exited;
    }
  }

  async get(path: string): Promise<{ status: number; headers: Headers; body: Json }> {
    const res = await fetch(`${this.url}${path}`);
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('application/json');
    return { status: res.status, headers: res.headers, body: json ? JSON.parse(text) : text };
  }

  async post(
    path: string,
    body: string,
    contentType = 'application/json',
    headers: Record<string, string> = {},
  ) {
    const res = await fetch(`${this.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': contentType, ...headers },
      body,
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
  }

  async state(): Promise<string> {
    return (await this.get('/health')).body.maintenance.state as string;
  }
}
