import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { EnvError } from './errors.ts';

export interface ProcessSpec {
  /** Short name used in errors and log lines, e.g. `kafka`. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr go here, appended across restarts so a post-mortem sees every life. */
  logFile: string;
  /** Polled until it returns true; exceptions count as "not yet". */
  ready: () => Promise<boolean>;
  /** Generous on purpose: several engineers' servers share two cores, and a slow start is no failure. */
  readyTimeoutMs: number;
  /** How long SIGTERM gets before SIGKILL. */
  stopTimeoutMs?: number;
  /** Called whenever the process ends, also after stop(); exit code null means killed by a signal. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

// If the runner dies without teardown, do not leave JVMs and apiservers behind on a shared machine.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Last `lines` lines of a log file, for error messages. */
export function logTail(file: string, lines = 40): string {
  try {
    const size = statSync(file).size;
    const text = readFileSync(file, 'utf8').slice(Math.max(0, size - 16_000));
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/**
 * One long-running child process: start and wait until ready (or fail with the log's tail), stop with
 * SIGTERM then SIGKILL, restart with the same command line (so the same ports and data dir).
 */
export class Supervised {
  readonly spec: ProcessSpec;
  #child: ChildProcess | undefined;
  #exit: Promise<void> = Promise.resolve();
  #exitInfo: string | undefined;

  constructor(spec: ProcessSpec) {
    this.spec = spec;
    installExitHook();
  }

  get running(): boolean {
    return this.#child !== undefined && this.#exitInfo === undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async start(): Promise<void> {
    if (this.running) return;
    const { name, command, args, env, cwd, logFile, ready, readyTimeoutMs } = this.spec;
    const fd = openSync(logFile, 'a');
    writeSync(fd, `\n=== ${new Date().toISOString()} start ${command} ${args.join(' ')}\n`);
    let child: ChildProcess;
    try {
      child = spawn(command, args, { cwd, env: env ?? process.env, stdio: ['ignore', fd, fd] });
    } finally {
      closeSync(fd);
    }
    this.#child = child;
    this.#exitInfo = undefined;
    live.add(child);
    this.#exit = new Promise((resolve) => {
      const done = (info: string) => {
        this.#exitInfo ??= info;
        live.delete(child);
        resolve();
      };
      child.once('error', (err) => done(`failed to spawn: ${err.message}`));
      child.once('exit', (code, signal) => {
        done(`exited with ${signal ?? `code ${code}`}`);
        this.spec.onExit?.(code, signal);
      });
    });

    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (this.#exitInfo !== undefined) {
        throw new EnvError(
          'ENV_PROCESS_EXITED',
          `${name} ${this.#exitInfo} before it was ready (log ${logFile}):\n${logTail(logFile)}`,
        );
      }
      if (await ready().catch(() => false)) {
        if (this.#exitInfo === undefined) return;
        continue;
      }
      if (Date.now() > deadline) {
        await this.stop();
        throw new EnvError(
          'ENV_START_TIMEOUT',
          `${name} not ready within ${readyTimeoutMs} ms (log ${logFile}):\n${logTail(logFile)}`,
          { retriable: true },
        );
      }
      await sleep(100);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs` (default: the spec's stopTimeoutMs, else 10 s). */
  async stop(graceMs = this.spec.stopTimeoutMs ?? 10_000): Promise<void> {
    const child = this.#child;
    if (child === undefined || this.#exitInfo !== undefined) return;
    child.kill('SIGTERM');
    const grace = new AbortController();
    const graceOver = await Promise.race([
      this.#exit.then(() => false),
      sleep(graceMs, true, { signal: grace.signal }).catch(() => false),
    ]);
    grace.abort();
    if (graceOver) {
      child.kill('SIGKILL');
      await this.#exit;
    }
  }

  /** Kills without a chance to clean up, as a crash or OOM kill would. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.#child?.kill('SIGKILL');
    await this.#exit;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}
