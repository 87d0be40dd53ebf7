import type { Logger } from 'pino';
import { MemberReporter, SwitchWatcher, type EtcdClient } from '@kmaint/common/etcd';
import { ok, type Parsed } from '@kmaint/common';
import {
  AppSession,
  type AppReport,
  type DesiredView,
  type SessionEvent,
  type SessionOptions,
} from './core/session.ts';

export interface AgentOptions extends SessionOptions {
  key: string;
  etcdUnavailable: 'keep' | 'maintenance';
  /** How often silence and overdue drains are looked for. */
  checkIntervalMs?: number;
}

export interface AgentStatus {
  ready: boolean;
  etcdHealthy: boolean;
  appResponding: boolean;
  appState: string | null;
  generation: number;
}

/**
 * The agent: follows the switch, keeps the app session, writes its member report and wakes long polls.
 * The etcd side reuses the service's switch follower and member reporter.
 */
export class Agent {
  readonly #session: AppSession;
  readonly #watcher: SwitchWatcher;
  readonly #reporter: MemberReporter;
  readonly #log: Logger;
  readonly #waiters = new Set<() => void>();
  readonly #timer: NodeJS.Timeout;
  #etcdHealthy = false;

  constructor(etcd: EtcdClient, options: AgentOptions, logger: Logger) {
    this.#log = logger;
    this.#session = new AppSession(options, Date.now());
    this.#reporter = new MemberReporter(etcd, options.key, options.id, logger.child({ component: 'report' }));
    this.#watcher = new SwitchWatcher(
      etcd,
      {
        key: options.key,
        unavailable: options.etcdUnavailable,
        logger: logger.child({ component: 'switch' }),
      },
      {
        desired: (desired) => {
          this.#reporter.follow(desired);
          this.#apply(this.#session.desire(desired, Date.now()));
        },
        invalid: () => undefined,
        health: (healthy, detail) => {
          if (healthy !== this.#etcdHealthy) this.#log.info({ healthy, detail }, 'etcd health changed');
          this.#etcdHealthy = healthy;
        },
        restart: () => undefined,
      },
    );
    this.#timer = setInterval(
      () => this.#apply(this.#session.check(Date.now())),
      options.checkIntervalMs ?? 1_000,
    );
    this.#timer.unref();
  }

  /** Resolves after the first read of the switch (or its failure; the watcher keeps trying). */
  start(): Promise<void> {
    return this.#watcher.start();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const wake of this.#waiters) wake();
    await this.#watcher.close();
    await this.#reporter.close();
  }

  status(): AgentStatus {
    return {
      ready: this.#session.ready(),
      etcdHealthy: this.#etcdHealthy,
      appResponding: this.#session.responding,
      appState: this.#session.appState,
      generation: this.#session.generation,
    };
  }

  /** The desired state once its generation differs from `after`, or when `waitMs` passes; null before the switch was read. */
  async poll(after: number | null, waitMs: number, signal: AbortSignal): Promise<DesiredView | null> {
    this.#apply(this.#session.pollStarted(Date.now()));
    try {
      if (after !== null && after === this.#session.generation && waitMs > 0) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            signal.removeEventListener('abort', done);
            this.#waiters.delete(done);
            resolve();
          };
          const timer = setTimeout(done, waitMs);
          signal.addEventListener('abort', done, { once: true });
          this.#waiters.add(done);
        });
      }
      return this.#session.view();
    } finally {
      this.#session.pollEnded(Date.now());
    }
  }

  report(report: AppReport): Parsed<AgentStatus> {
    const result = this.#session.report(report, Date.now());
    if (!result.ok) return result;
    this.#apply(result.value);
    return ok(this.status());
  }

  #apply(events: SessionEvent[]): void {
    if (events.length === 0) return;
    for (const event of events) {
      switch (event.kind) {
        case 'desired':
          this.#log.info(
            event,
            event.maintenance ? 'maintenance asked: telling the app' : 'consume asked: telling the app',
          );
          for (const wake of [...this.#waiters]) wake();
          break;
        case 'app-state':
          this.#log.info(event, 'the app changed state');
          break;
        case 'app-silent':
          this.#log.error(event, 'the app stopped polling and reporting; readiness fails until it is back');
          break;
        case 'app-back':
          this.#log.info(event, 'the app is talking again');
          break;
        case 'drain-overdue':
          this.#log.error(event, 'the app has not drained in time');
          break;
      }
    }
    const report = this.#session.memberReport();
    if (report !== null) this.#reporter.update(report);
  }
}
