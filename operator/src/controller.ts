import { encodeSwitchValue, isRetriable, KmaintError, SWITCH_OFF } from '@kmaint/common';
import type { Logger } from 'pino';
import { CONDITION, REASON, type Condition, type Reason } from './core/conditions.ts';
import { decideKeys, needsWrite, type KeyDecision, type WindowActivity } from './core/desired.ts';
import { evaluateSchedule } from './core/schedule.ts';
import { matchesSelector } from './core/selector.ts';
import { computeStatus, holdsKeyOn, type PodView, type WindowStatus } from './core/status.ts';
import { parseWindowOnce as parsedWindow, type Window } from './core/window.ts';
import { WindowIndex } from './core/window-index.ts';
import type { SwitchStore } from './etcd/switches.ts';
import { WorkQueue } from './kube/queue.ts';
import { FINALIZER, type WindowObject } from './kube/resources.ts';
import type { Autoscalers } from './kube/autoscalers.ts';
import type { WindowWriter } from './kube/windows.ts';
import type { Metrics } from './metrics.ts';

export interface SourceHandlers {
  windowChanged(obj: WindowObject): void;
  windowDeleted(obj: WindowObject): void;
  /** A pod of the namespace changed: its labels now and, if it had others before, those too. */
  podChanged(namespace: string, labels: readonly Readonly<Record<string, string>>[]): void;
}

/** The caches the controller reads: filled by informers in production, by hand in unit tests. */
export interface Sources {
  windows(): readonly WindowObject[];
  window(namespace: string, name: string): WindowObject | undefined;
  pods(namespace: string): PodView[];
  synced(): boolean;
  stop(): Promise<void>;
}

export interface ControllerDeps {
  startSources(handlers: SourceHandlers): Promise<Sources>;
  switches: SwitchStore;
  writer: WindowWriter;
  /** Pauses the autoscalers a window names while it is active; absent: no autoscaler is touched. */
  autoscalers?: Autoscalers;
  /** Checked right before each etcd write, so a deposed leader never writes. */
  isLeader(): boolean;
  metrics: Metrics;
  log: Logger;
  resyncPeriodMs: number;
  /** Reconciles in flight at once (4 if not given). */
  workers?: number;
  /** How often an open, not yet drained window re-reads its members even without a watch event. */
  drainPollMs?: number;
  now?: () => number;
}

type Item = `w:${string}` | `k:${string}`;

/**
 * The level-triggered reconciler. Window items (`w:<ns>/<name>`) derive and patch a window's status and
 * keep its finalizer; key items (`k:<key>`) derive the key's value from every window for it and write
 * it when it differs. Both read current state only, so running one twice, late or after a restart does
 * no harm.
 */
export class Controller {
  private readonly deps: ControllerDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private queue: WorkQueue<Item> | null = null;
  private sources: Sources | null = null;
  private worker: Promise<void> | null = null;
  private resync: NodeJS.Timeout | null = null;
  /** Keys some window targets (or did, until its key was turned off), with their member watch. */
  private readonly keys = new Map<string, { cancel: (() => Promise<void>) | null }>();
  /** The status this instance last wrote, newer than the cache until the informer catches up. */
  private readonly written = new Map<string, WindowStatus>();
  private readonly states = new Map<string, string>();
  /** Why a key's last write (or read) failed; shown in its windows' Reconciled condition. */
  private readonly keyErrors = new Map<string, { reason: Reason; message: string }>();
  /** Windows that may have autoscalers paused, so a closed or deleted one puts them back. */
  private readonly pausing = new Set<string>();
  /** Items of windows the finalizer is not on yet (their key waits for it): the queue's second lane. */
  private readonly unfinalized = new Set<string>();
  /**
   * The resourceVersion each window had when this instance added its finalizer: until the informer
   * brings the newer version, the cached one lacks the finalizer that is already on.
   */
  private readonly finalizedAt = new Map<string, string | undefined>();
  private readonly index = new WindowIndex();

  constructor(deps: ControllerDeps) {
    this.deps = deps;
    this.log = deps.log.child({ component: 'controller' });
    this.now = deps.now ?? Date.now;
    // The keys that hung on the lost lease are gone (off): every key is brought back in line.
    deps.switches.onProvisionalLost(() => this.enqueueAll());
  }

  get running(): boolean {
    return this.queue !== null;
  }

  synced(): boolean {
    return this.sources?.synced() ?? false;
  }

  async start(): Promise<void> {
    if (this.queue !== null) return;
    // Keys go first: a burst of new windows turns every key on (provisionally, see decideKeys) before
    // anything waits on the apiserver. Then the windows still without the finalizer, whose keys are
    // written for good once it is on; then everything else (status patches, events). Those take at most
    // a quarter of the workers: once a burst's first windows have their keys, their status reconciles
    // would otherwise fill every worker, and each window created after them would wait for one to finish
    // before its finalizer.
    const workers = this.deps.workers ?? 4;
    const queue = new WorkQueue<Item>({
      lanes: 3,
      lane: (item) => (item.startsWith('k:') ? 0 : this.unfinalized.has(item) ? 1 : 2),
      laneLimits: [undefined, undefined, Math.max(2, Math.ceil(workers / 4))],
    });
    this.queue = queue;
    this.written.clear();
    this.sources = await this.deps.startSources({
      windowChanged: (obj) => {
        this.indexWindow(obj);
        const item = windowItem(obj);
        if (needsFinalizer(obj)) {
          this.unfinalized.add(item);
          // A new window's key does not wait for its finalizer: it goes on provisionally at once.
          const parsed = parsedWindow(obj);
          if (parsed.ok) queue.add(`k:${parsed.value.key}`);
        } else {
          this.unfinalized.delete(item);
        }
        queue.add(item);
      },
      windowDeleted: (obj) => {
        this.index.remove(obj.metadata.namespace ?? '', obj.metadata.name ?? '');
        this.unfinalized.delete(windowItem(obj));
        queue.add(windowItem(obj));
        const parsed = parsedWindow(obj);
        if (parsed.ok) queue.add(`k:${parsed.value.key}`);
      },
      podChanged: (namespace, labels) => {
        // Only the windows that select the pod (now or before) care about it.
        for (const obj of this.resolve(this.index.inNamespace(namespace))) {
          const parsed = parsedWindow(obj);
          const selector = parsed.ok ? parsed.value.selector : null;
          if (selector !== null && labels.some((l) => matchesSelector(l, selector)))
            queue.add(windowItem(obj));
        }
      },
    });
    // A few workers, so apiserver round trips overlap; the queue never hands one item to two of them.
    this.worker = Promise.all(Array.from({ length: workers }, () => this.work(queue))).then(() => undefined);
    this.resync = setInterval(() => this.enqueueAll(), this.deps.resyncPeriodMs);
    this.resync.unref();
    this.enqueueAll();
    this.log.info('controller started');
  }

  async stop(): Promise<void> {
    const queue = this.queue;
    if (queue === null) return;
    this.queue = null;
    if (this.resync !== null) clearInterval(this.resync);
    queue.shutdown();
    await this.worker;
    await this.sources?.stop();
    this.sources = null;
    await Promise.all([...this.keys.values()].map((k) => k.cancel?.().catch(() => undefined)));
    this.keys.clear();
    this.log.info('controller stopped');
  }

  /**
   * Every window and every key. Keys go to the first lane, so a restarted operator brings every key in
   * line before it re-derives the first status.
   */
  private enqueueAll(): void {
    for (const obj of this.sources?.windows() ?? []) {
      // Also what indexes windows the cache holds without an event for them (a unit test's, by hand).
      this.indexWindow(obj);
      const parsed = parsedWindow(obj);
      if (parsed.ok) this.queue?.add(`k:${parsed.value.key}`);
      this.queue?.add(windowItem(obj));
    }
    for (const key of this.keys.keys()) this.queue?.add(`k:${key}`);
  }

  private async work(queue: WorkQueue<Item>): Promise<void> {
    const { metrics } = this.deps;
    for (let item = await queue.get(); item !== null; item = await queue.get()) {
      const kind = item.startsWith('w:') ? 'window' : 'key';
      metrics.queueWaitSeconds.observe({ kind }, queue.lastWaitMs / 1000);
      const stopTimer = metrics.reconcileSeconds.startTimer({ kind });
      try {
        if (item.startsWith('w:')) await this.reconcileWindow(item, queue);
        else await this.reconcileKey(item.slice(2), queue);
        queue.forget(item);
        metrics.reconciles.inc({ kind, result: 'ok' });
        this.log.debug({ item }, 'reconciled');
      } catch (err) {
        const code = err instanceof KmaintError ? err.code : 'UNEXPECTED';
        metrics.reconciles.inc({ kind, result: 'error' });
        metrics.errors.inc({ code });
        metrics.reconcileErrors.inc({ kind, reason: code });
        if (isRetriable(err)) {
          const delay = queue.addRateLimited(item);
          this.log.warn({ item, err, retryInMs: delay }, 'reconcile failed; will retry');
        } else {
          this.log.error({ item, err }, 'reconcile failed');
        }
      } finally {
        stopTimer();
        queue.done(item);
        metrics.queueDepth.set(queue.depth);
      }
    }
  }

  private async reconcileWindow(item: Item, queue: WorkQueue<Item>): Promise<void> {
    const [namespace, name] = item.slice(2).split('/') as [string, string];
    const ref = `${namespace}/${name}`;
    const obj = this.sources?.window(namespace, name);
    if (obj === undefined) {
      this.unfinalized.delete(item);
      this.finalizedAt.delete(item);
      this.written.delete(ref);
      this.setState(ref, null);
      this.deps.metrics.windowActive.remove({ window: ref });
      this.deps.metrics.windowDrained.remove({ window: ref });
      return;
    }
    const parsed = parsedWindow(obj);
    if (!parsed.ok) {
      this.setState(ref, 'invalid');
      throw new KmaintError('WINDOW_INVALID', `${ref}: ${parsed.error}`);
    }
    const w = parsed.value;
    this.trackKey(w.key);
    const version = obj.metadata.resourceVersion;
    if (!needsFinalizer(obj)) this.finalizedAt.delete(item);
    else if (this.finalizedAt.get(item) !== version || version === undefined) {
      // Until the finalizer is on, the key is on only provisionally: a window deleted meanwhile, while no
      // operator runs, would leave nothing to turn it off. Once it is on, the key is written for good,
      // and the rest of this reconcile (status, events) comes back in the last lane, behind the keys and
      // finalizers of the other new windows.
      await this.deps.writer
        .setFinalizers(obj, [...(obj.metadata.finalizers ?? []), FINALIZER])
        .catch((err: unknown) => this.failed(obj, REASON.FinalizerWriteFailed, err));
      this.finalizedAt.set(item, version);
      this.unfinalized.delete(item);
      queue.add(`k:${w.key}`);
      queue.add(item);
      return;
    }
    // The key first: its write must never wait for the status patch below (nor for its failure).
    queue.add(`k:${w.key}`);
    const nowMs = this.now();
    const schedule = this.schedule(w, nowMs);
    // Reports the user's roles keep from it leave a status that says so; etcd down still retries.
    let membersError: { reason: Reason; message: string } | null = null;
    const members = await this.deps.switches.readMembers(w.key).catch((err: unknown) => {
      if (!(err instanceof KmaintError && err.code === 'ETCD_PERMISSION')) throw err;
      this.log.error({ window: ref, err }, 'cannot read the member reports of the window');
      membersError = { reason: REASON.EtcdPermissionDenied, message: err.message };
      return [];
    });
    const previous = this.written.get(ref)?.conditions ?? conditionsOf(obj);
    const result = computeStatus({
      window: w,
      schedule,
      pods: this.sources?.pods(namespace) ?? [],
      members,
      previous,
      nowMs,
      keyError: this.keyErrors.get(w.key) ?? null,
      membersError,
    });
    const current = this.written.get(ref) ?? obj.status;
    if (canonical(current) !== canonical(result.status)) {
      // A window on its way out is not patched (it may be gone any moment), but its status is still
      // remembered so the Deleting transition is announced once.
      if (!w.deleting) {
        await this.deps.writer
          .patchStatus(obj, result.status)
          .catch((err: unknown) => this.failed(obj, REASON.StatusWriteFailed, err));
      }
      this.written.set(ref, result.status);
    }
    for (const event of result.events) {
      await this.deps.writer.recordEvent(obj, event).catch((err: unknown) => {
        // An event is a courtesy to the reader of `kubectl describe`; losing one must not block the key.
        this.log.warn({ window: ref, reason: event.reason, err }, 'event not recorded');
      });
      this.log.info({ window: ref, reason: event.reason, type: event.type }, event.message);
    }
    if (!w.deleting) await this.syncAutoscalers(obj, w, result.active);
    this.setState(
      ref,
      w.deleting ? 'deleting' : w.suspend ? 'suspended' : schedule.ok ? schedule.value.phase : 'invalid',
    );
    if (result.requeueAtMs !== null) queue.addAfter(item, result.requeueAtMs - nowMs + 20);
    // Watch events bring member changes at once; this re-read is the safety net for a watch that is
    // down or not yet set up, for as long as the window waits for its pods.
    const drained = result.status.conditions.some((c) => c.type === CONDITION.Drained && c.status === 'True');
    this.deps.metrics.windowActive.set({ window: ref }, result.active ? 1 : 0);
    this.deps.metrics.windowDrained.set({ window: ref }, drained ? 1 : 0);
    if (result.active && !drained) queue.addAfter(item, this.deps.drainPollMs ?? 5_000);
  }

  private async reconcileKey(key: string, queue: WorkQueue<Item>): Promise<void> {
    try {
      await this.syncKey(key, queue);
      this.setKeyError(key, null);
    } catch (err) {
      const code = err instanceof KmaintError ? err.code : 'UNEXPECTED';
      const reason =
        code === 'NOT_LEADER'
          ? REASON.NotLeader
          : code === 'ETCD_PERMISSION'
            ? REASON.EtcdPermissionDenied
            : code === 'ETCD_READ'
              ? REASON.EtcdReadFailed
              : REASON.EtcdWriteFailed;
      this.setKeyError(key, { reason, message: (err as Error).message });
      throw err;
    }
  }

  /** Pauses the window's ScaledObjects while it is active, and puts them back once it is not. */
  private async syncAutoscalers(obj: WindowObject, w: Window, active: boolean): Promise<void> {
    const autoscalers = this.deps.autoscalers;
    if (autoscalers === undefined || (w.scaledObjects === null && !this.pausing.has(w.ref))) return;
    const pause = active && w.scaledObjects !== null;
    if (pause) this.pausing.add(w.ref);
    const changed = await autoscalers
      .sync(w, pause)
      .catch((err: unknown) => this.failed(obj, REASON.AutoscalerPauseFailed, err));
    if (!pause) this.pausing.delete(w.ref);
    if (changed > 0) {
      this.log.info(
        { window: w.ref, scaledObjects: changed },
        pause ? 'autoscalers paused' : 'autoscalers restored',
      );
    }
  }

  /** Remembers the key's failure (or its end) and lets its windows' Reconciled condition say so. */
  private setKeyError(key: string, error: { reason: Reason; message: string } | null): void {
    const before = this.keyErrors.get(key);
    if (error === null ? before === undefined : before?.reason === error.reason) return;
    if (error === null) this.keyErrors.delete(key);
    else this.keyErrors.set(key, error);
    this.enqueueWindowsOf(key, false);
  }

  private enqueueWindowsOf(key: string, rateLimited: boolean): void {
    for (const { obj } of this.windowsOfKey(key)) {
      if (rateLimited) this.queue?.addRateLimited(windowItem(obj));
      else this.queue?.add(windowItem(obj));
    }
  }

  /**
   * A write to the apiserver failed: a Warning event says why on the window (if the apiserver takes
   * events at all), and the error goes on to the queue's retry.
   */
  private async failed(obj: WindowObject, reason: Reason, err: unknown): Promise<never> {
    const message = (err as Error).message;
    await this.deps.writer
      .recordEvent(obj, { type: 'Warning', reason, message })
      .catch((eventErr: unknown) =>
        this.log.warn({ window: windowItem(obj).slice(2), err: eventErr }, 'event not recorded'),
      );
    throw err;
  }

  private async syncKey(key: string, queue: WorkQueue<Item>): Promise<void> {
    const nowMs = this.now();
    const mine = this.windowsOfKey(key);
    // Tracked from the first window on, also before that window's own reconcile, so a provisional key
    // whose window goes again at once is still turned off.
    if (mine.length > 0) this.trackKey(key);
    else if (!this.keys.has(key)) return;
    const activities: WindowActivity[] = mine.map(({ obj, w }) => {
      const schedule = this.schedule(w, nowMs);
      return {
        ref: w.ref,
        key,
        active: holdsKeyOn(w, schedule),
        mode: w.mode,
        reason: w.reason,
        drainTimeoutMs: w.drainTimeoutMs,
        windowStartMs: schedule.ok ? schedule.value.windowStartMs : null,
        untilMs: schedule.ok ? schedule.value.windowEndMs : null,
        finalized: this.finalized(obj),
      };
    });
    const decision = decideKeys(activities).get(key) ?? { value: SWITCH_OFF, provisional: false };
    const changed = await this.putKey(key, decision);
    if (changed !== null) {
      const { enabled } = decision.value;
      this.deps.metrics.keyWrites.inc({ value: enabled ? 'on' : 'off' });
      this.log.info(
        { key, value: changed.value, previous: changed.previous, provisional: decision.provisional },
        enabled ? 'switch key on' : 'switch key off',
      );
    }
    // Only once the key says what the remaining windows want may a deleted window go.
    for (const { obj, w } of mine) {
      const finalizers = obj.metadata.finalizers ?? [];
      if (w.deleting && finalizers.includes(FINALIZER)) {
        // What the window paused is put back before it may go.
        if (w.scaledObjects !== null) this.pausing.add(w.ref);
        await this.syncAutoscalers(obj, w, false);
        await this.deps.writer
          .setFinalizers(
            obj,
            finalizers.filter((f) => f !== FINALIZER),
          )
          .catch((err: unknown) => {
            if (!(err instanceof KmaintError && err.code === 'KUBE_NOT_FOUND')) throw err;
          });
        this.log.info({ window: w.ref, key }, 'finalizer removed');
      }
    }
    if (mine.length === 0) await this.untrackKey(key);
    else if (mine.some(({ w }) => w.deleting)) queue.addAfter(`k:${key}`, 1_000);
  }

  /** Puts the decision into the key unless it holds it already: what was written and what it replaced. */
  private async putKey(
    key: string,
    decision: KeyDecision,
  ): Promise<{ value: string; previous: string | null } | null> {
    const value = encodeSwitchValue(decision.value);
    const mustLead = (): void => {
      if (!this.deps.isLeader()) throw new KmaintError('NOT_LEADER', `not the leader: ${key} left as it is`);
    };
    if (decision.value.enabled) {
      // One round trip (the burst's keys wait on it): etcd puts the value only if the key does not hold it
      // on the right lease already, so an instance that no longer leads must not ask, even for a no-op.
      mustLead();
      const ensured = await this.deps.switches.ensure(key, value, decision.provisional);
      return ensured.written ? { value, previous: ensured.previous } : null;
    }
    // An off has several spellings (missing, `false`, our JSON): none of them is rewritten.
    const previous = await this.deps.switches.read(key);
    if (!needsWrite(previous, decision.value)) return null;
    mustLead();
    await this.deps.switches.write(key, value);
    return { value, previous };
  }

  /** The finalizer is on the window, in the cache or (not seen there yet) by this instance's patch. */
  private finalized(obj: WindowObject): boolean {
    if (!needsFinalizer(obj)) return true;
    const item = windowItem(obj);
    return this.finalizedAt.has(item) && this.finalizedAt.get(item) === obj.metadata.resourceVersion;
  }

  private indexWindow(obj: WindowObject): void {
    const parsed = parsedWindow(obj);
    this.index.put(
      obj.metadata.namespace ?? '',
      obj.metadata.name ?? '',
      parsed.ok ? parsed.value.key : null,
    );
  }

  /** The cached windows of the refs, those still there. */
  private resolve(refs: readonly string[]): WindowObject[] {
    const out: WindowObject[] = [];
    for (const ref of refs) {
      const [namespace, name] = ref.split('/') as [string, string];
      const obj = this.sources?.window(namespace, name);
      if (obj !== undefined) out.push(obj);
    }
    return out;
  }

  /** The cached windows that name the key, parsed. */
  private windowsOfKey(key: string): { obj: WindowObject; w: Window }[] {
    const out: { obj: WindowObject; w: Window }[] = [];
    for (const obj of this.resolve(this.index.ofKey(key))) {
      const parsed = parsedWindow(obj);
      if (parsed.ok && parsed.value.key === key) out.push({ obj, w: parsed.value });
    }
    return out;
  }

  private schedule(w: Window, nowMs: number) {
    return w.schedule.ok
      ? evaluateSchedule(w.schedule.value, { createdMs: w.createdMs, maxDurationMs: w.maxDurationMs }, nowMs)
      : w.schedule;
  }

  /**
   * Starts following the key's member reports. Not awaited by the reconcile: creating an etcd watch
   * waits for a connection, and while etcd is down that would stall the one worker for every key.
   */
  private trackKey(key: string): void {
    if (this.keys.has(key)) return;
    const entry: { cancel: (() => Promise<void>) | null } = { cancel: null };
    this.keys.set(key, entry);
    this.deps.switches
      .watchMembers(key, () => this.enqueueWindowsOf(key, false))
      .then(
        async (cancel) => {
          // The key may have been let go (or the controller stopped) while the watch was being set up.
          if (this.keys.get(key) === entry) entry.cancel = cancel;
          else await cancel();
        },
        (err: unknown) => {
          // Forget the key so the next reconcile of its windows tries again, and make that happen soon.
          if (this.keys.get(key) === entry) this.keys.delete(key);
          this.log.warn({ key, err }, 'member watch not started');
          // A refusal by etcd's roles is tried again by the windows' own reconciles (an open one polls),
          // not at once: each of those succeeds and would reset the backoff, a loop at its base delay.
          if (isRetriable(err)) this.enqueueWindowsOf(key, true);
        },
      );
  }

  private async untrackKey(key: string): Promise<void> {
    const entry = this.keys.get(key);
    this.keys.delete(key);
    await entry?.cancel?.().catch(() => undefined);
  }

  private setState(ref: string, state: string | null): void {
    if (state === null) this.states.delete(ref);
    else this.states.set(ref, state);
    const counts: Record<string, number> = {
      active: 0,
      pending: 0,
      ended: 0,
      capped: 0,
      suspended: 0,
      invalid: 0,
      deleting: 0,
    };
    for (const s of this.states.values())
      counts[s === 'open' ? 'active' : s] = (counts[s === 'open' ? 'active' : s] ?? 0) + 1;
    for (const [label, n] of Object.entries(counts)) this.deps.metrics.windows.set({ state: label }, n);
  }
}

function needsFinalizer(obj: WindowObject): boolean {
  const deleting = obj.metadata.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== null;
  return !deleting && !(obj.metadata.finalizers ?? []).includes(FINALIZER);
}

function windowItem(obj: WindowObject): Item {
  return `w:${obj.metadata.namespace}/${obj.metadata.name}`;
}

function conditionsOf(obj: WindowObject): Condition[] {
  const conditions = obj.status?.conditions;
  return Array.isArray(conditions) ? (conditions as Condition[]) : [];
}

/** JSON with sorted keys, so a status read back from the API compares equal to the one computed. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
