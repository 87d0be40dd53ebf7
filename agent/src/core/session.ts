import {
  fail,
  MEMBER_STATES,
  ok,
  type Desired,
  type MemberReport,
  type MemberState,
  type Parsed,
} from '@kmaint/common';

/**
 * The agent's view of the app it stands beside: what the switch asks (numbered by a generation that
 * grows with every change), what the app last said it is doing, and whether it is still talking. Pure:
 * every method takes the time from the caller.
 */

/** What the app POSTs to /v1/state. */
export interface AppReport {
  state: MemberState;
  inFlight: number;
  /** The generation of the desired state the app acted on. */
  generation: number;
}

/** What the app reads from /v1/desired. */
export interface DesiredView {
  v: 1;
  generation: number;
  maintenance: boolean;
  mode: Desired['mode'];
  reason: string | null;
  window: string | null;
  /** The window's hard end (ISO-8601 UTC) when the switch names one; the app may resume on its own after it. */
  until: string | null;
  drainTimeoutSeconds: number | null;
}

export interface SessionOptions {
  id: string;
  pod: string | null;
  /** The app counts as gone when it has neither polled nor reported for this long (and no poll is open). */
  appTimeoutMs: number;
  /** Drain timeout when the switch gives none; past it (plus the app timeout) a drain counts as overdue. */
  drainTimeoutMs: number;
}

/** A change worth telling the outside (log, metrics, member report). */
export type SessionEvent =
  | { kind: 'desired'; generation: number; maintenance: boolean }
  | { kind: 'app-state'; from: MemberState | null; to: MemberState; generation: number }
  | { kind: 'app-silent'; lastSeen: string | null }
  | { kind: 'app-back' }
  | { kind: 'drain-overdue'; sinceMs: number };

export class AppSession {
  readonly #opts: SessionOptions;
  #generation = 0;
  #desired: Desired | null = null;
  #desiredSince: number;
  #until: string | null = null;
  #app: AppReport | null = null;
  #appSince: number;
  #drainedAt: string | null = null;
  #lastSeen: number | null = null;
  #openPolls = 0;
  #responding = true;
  #overdue = false;
  #lastError: string | null = null;
  readonly #started: number;

  constructor(options: SessionOptions, now: number) {
    this.#opts = options;
    this.#started = now;
    this.#desiredSince = now;
    this.#appSince = now;
  }

  get generation(): number {
    return this.#generation;
  }

  /** Whether the switch has been read once (before that the agent has nothing to say to the app). */
  get known(): boolean {
    return this.#desired !== null;
  }

  /** A new reading of the switch; the generation grows only when it asks for something different. */
  desire(desired: Desired, now: number): SessionEvent[] {
    // The window's hard end travels with the switch value once the switch follower reads it.
    const until = desired.until ?? null;
    const before = this.#desired;
    if (before !== null && sameDesired(before, desired) && this.#until === until) return [];
    this.#desired = desired;
    this.#until = until;
    this.#generation += 1;
    this.#desiredSince = now;
    this.#overdue = false;
    return [{ kind: 'desired', generation: this.#generation, maintenance: desired.maintenance }];
  }

  view(): DesiredView | null {
    const d = this.#desired;
    if (d === null) return null;
    return {
      v: 1,
      generation: this.#generation,
      maintenance: d.maintenance,
      mode: d.mode,
      reason: d.reason,
      window: d.window,
      until: this.#until,
      drainTimeoutSeconds: d.drainTimeoutMs === null ? null : d.drainTimeoutMs / 1000,
    };
  }

  /** The app reports its state; refused (nothing changes) when it claims what cannot be true. */
  report(report: AppReport, now: number): Parsed<SessionEvent[]> {
    if (report.generation > this.#generation) {
      return fail(`generation ${report.generation} is newer than the agent's ${this.#generation}`);
    }
    if (report.state === 'maintenance' && report.inFlight > 0) {
      return fail('state "maintenance" means drained: inFlight must be 0');
    }
    const events = this.#touch(now);
    const from = this.#app?.state ?? null;
    if (from !== report.state) {
      this.#appSince = now;
      if (report.state === 'maintenance') this.#drainedAt = new Date(now).toISOString();
      events.push({ kind: 'app-state', from, to: report.state, generation: report.generation });
    }
    this.#app = report;
    if (this.#overdue && this.#drained()) this.#overdue = false;
    return ok(events);
  }

  pollStarted(now: number): SessionEvent[] {
    this.#openPolls += 1;
    return this.#touch(now);
  }

  pollEnded(now: number): void {
    this.#openPolls = Math.max(0, this.#openPolls - 1);
    this.#lastSeen = now;
  }

  /** Re-evaluates the time-based conditions: the app's silence and an overdue drain. */
  check(now: number): SessionEvent[] {
    const events: SessionEvent[] = [];
    const silentSince = this.#lastSeen ?? this.#started;
    if (this.#responding && this.#openPolls === 0 && now - silentSince > this.#opts.appTimeoutMs) {
      this.#responding = false;
      const lastSeen = this.#lastSeen === null ? null : new Date(this.#lastSeen).toISOString();
      this.#lastError =
        lastSeen === null
          ? `the app has not contacted the agent since it started at ${new Date(this.#started).toISOString()}`
          : `the app has not polled or reported since ${lastSeen}`;
      events.push({ kind: 'app-silent', lastSeen });
    }
    const d = this.#desired;
    if (d?.maintenance === true && !this.#overdue && !this.#drained()) {
      const bound = (d.drainTimeoutMs ?? this.#opts.drainTimeoutMs) + this.#opts.appTimeoutMs;
      if (now - this.#desiredSince > bound) {
        this.#overdue = true;
        this.#lastError = `the app has not drained within ${Math.round(bound / 1000)}s of the window opening`;
        events.push({ kind: 'drain-overdue', sinceMs: now - this.#desiredSince });
      }
    }
    return events;
  }

  /**
   * Ready only when the switch says consume and the app confirmed running for the current generation: so
   * readiness fails the moment a window opens and comes back only once the app says it resumed.
   */
  ready(): boolean {
    return (
      this.#desired?.maintenance === false &&
      this.#responding &&
      this.#app?.state === 'running' &&
      this.#app.generation === this.#generation
    );
  }

  get responding(): boolean {
    return this.#responding;
  }

  get appState(): MemberState | null {
    return this.#app?.state ?? null;
  }

  /** The member report to keep in etcd; null until the app has said what it is doing. */
  memberReport(): MemberReport | null {
    const app = this.#app;
    if (app === null) return null;
    return {
      id: this.#opts.id,
      pod: this.#opts.pod,
      state: app.state,
      inFlight: app.inFlight,
      drainedAt: this.#drainedAt,
      lastTransition: new Date(this.#appSince).toISOString(),
      lastError: this.#lastError,
      window: app.state === 'running' ? null : (this.#desired?.window ?? null),
      appResponding: this.#responding,
      appLastSeen: this.#lastSeen === null ? null : new Date(this.#lastSeen).toISOString(),
    };
  }

  #drained(): boolean {
    return this.#app?.state === 'maintenance' && this.#app.generation === this.#generation;
  }

  #touch(now: number): SessionEvent[] {
    this.#lastSeen = now;
    if (this.#responding) return [];
    this.#responding = true;
    this.#lastError = null;
    return [{ kind: 'app-back' }];
  }
}

function sameDesired(a: Desired, b: Desired): boolean {
  return (
    a.maintenance === b.maintenance &&
    a.mode === b.mode &&
    a.reason === b.reason &&
    a.window === b.window &&
    a.drainTimeoutMs === b.drainTimeoutMs
  );
}

/** Reads a POST /v1/state body; the error says what is wrong, for a 400. */
export function parseAppReport(body: unknown): Parsed<AppReport> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('the body must be a JSON object {state, inFlight, generation}');
  }
  const o = body as Record<string, unknown>;
  if (!MEMBER_STATES.includes(o.state as MemberState)) {
    return fail(`"state" must be one of ${MEMBER_STATES.join(', ')}, got ${JSON.stringify(o.state)}`);
  }
  const inFlight = o.inFlight ?? 0;
  if (typeof inFlight !== 'number' || !Number.isInteger(inFlight) || inFlight < 0) {
    return fail(`"inFlight" must be a non-negative integer, got ${JSON.stringify(o.inFlight)}`);
  }
  if (typeof o.generation !== 'number' || !Number.isInteger(o.generation) || o.generation < 0) {
    return fail(
      `"generation" must be the non-negative integer read from /v1/desired, got ${JSON.stringify(o.generation)}`,
    );
  }
  return ok({ state: o.state as MemberState, inFlight, generation: o.generation });
}
