import { ApiException, V1MicroTime, type CoordinationV1Api, type V1Lease } from './client.ts';
import type { Logger } from 'pino';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  /** A leader that cannot renew for this long steps down (before others may take over). */
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

/**
 * Lease-based leader election (coordination.k8s.io/v1), after client-go's leaderelection: a candidate
 * takes the Lease when its holder has not renewed it for leaseDuration as measured on the candidate's own
 * clock (from when it last saw the record change, so clock skew between nodes does not matter); updates
 * carry the resourceVersion, so two candidates cannot both win one round.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly opts: LeaderElectionOptions;
  private readonly log: Logger;
  private observed: { key: string; atMs: number } | null = null;
  private leading = false;
  private lastRenewMs = 0;
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private loop: Promise<void> | null = null;
  /** Whether the last attempt reached the apiserver (for /readyz of a standby). */
  healthy = false;

  constructor(api: CoordinationV1Api, opts: LeaderElectionOptions, log: Logger) {
    this.api = api;
    this.opts = opts;
    this.log = log.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
  }

  get isLeader(): boolean {
    // A leader that has not renewed within the deadline no longer trusts its lease, even between ticks.
    return this.leading && Date.now() - this.lastRenewMs < this.opts.renewDeadlineMs;
  }

  start(callbacks: LeaderCallbacks): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      const now = Date.now();
      const renewed = await this.tryAcquireOrRenew(now);
      if (this.stopped) return;
      if (renewed) {
        this.lastRenewMs = now;
        if (!this.leading) {
          this.leading = true;
          this.log.info('became leader');
          callbacks.onStartedLeading();
        }
      } else if (this.leading && Date.now() - this.lastRenewMs >= this.opts.renewDeadlineMs) {
        this.leading = false;
        this.log.warn('lost the lease: stepping down');
        callbacks.onStoppedLeading();
      }
      this.timer = setTimeout(() => {
        this.loop = tick();
      }, this.opts.retryPeriodMs);
    };
    this.loop = tick();
  }

  /** Stops campaigning; a leader gives the lease up so a standby takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.loop;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.api.readNamespacedLease({
        name: this.opts.name,
        namespace: this.opts.namespace,
      });
      if (lease.spec?.holderIdentity !== this.opts.identity) return;
      lease.spec.holderIdentity = undefined;
      lease.spec.leaseDurationSeconds = 1;
      await this.api.replaceNamespacedLease({
        name: this.opts.name,
        namespace: this.opts.namespace,
        body: lease,
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err }, 'could not release the lease; it expires by itself');
    }
  }

  private async tryAcquireOrRenew(nowMs: number): Promise<boolean> {
    const { namespace, name, identity } = this.opts;
    const durationSeconds = Math.max(1, Math.round(this.opts.leaseDurationMs / 1000));
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if (!(err instanceof ApiException && err.code === 404)) return this.failed('read', err);
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: durationSeconds,
              acquireTime: new V1MicroTime(nowMs),
              renewTime: new V1MicroTime(nowMs),
              leaseTransitions: 0,
            },
          },
        });
        this.healthy = true;
        return true;
      } catch (createErr) {
        return this.failed('create', createErr);
      }
    }
    this.healthy = true;
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const recordKey = `${holder}|${String(spec.renewTime?.valueOf())}|${spec.leaseTransitions ?? 0}`;
    if (this.observed?.key !== recordKey) this.observed = { key: recordKey, atMs: nowMs };
    const heldMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    const expired = this.observed.atMs + heldMs <= nowMs;
    if (holder !== '' && holder !== identity && !expired) {
      this.log.debug({ holder }, 'lease held by another instance');
      return false;
    }

    const takingOver = holder !== identity;
    lease.spec = {
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: new V1MicroTime(nowMs),
      acquireTime: takingOver ? new V1MicroTime(nowMs) : spec.acquireTime,
      leaseTransitions: (spec.leaseTransitions ?? 0) + (takingOver ? 1 : 0),
    };
    try {
      await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      if (takingOver) this.log.info({ previous: holder || null }, 'acquired the lease');
      return true;
    } catch (err) {
      return this.failed('update', err);
    }
  }

  private failed(what: string, err: unknown): boolean {
    const conflict = err instanceof ApiException && err.code === 409;
    if (!conflict) this.healthy = false;
    this.log.debug({ err }, `lease ${what} failed`);
    return false;
  }
}
