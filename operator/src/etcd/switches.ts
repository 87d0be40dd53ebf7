import { checkEtcdAccess, createEtcdClient, etcdSettingsProblem } from '@kmaint/common/etcd-client';
import type { Etcd3, Lease, Watcher } from 'etcd3';
import {
  backoffDelay,
  KmaintError,
  membersPrefix,
  parseMemberReport,
  type MemberReport,
} from '@kmaint/common';
import type { Logger } from 'pino';
import type { OperatorConfig } from '../config.ts';
import type { StoredKey } from '../core/desired.ts';

/** What the reconciler needs from etcd: read and write switch keys, read and follow member reports. */
export interface SwitchStore {
  read(key: string): Promise<StoredKey>;
  /**
   * `provisional`: attached to this instance's lease, so etcd deletes the key (off) once the instance is
   * gone for the lease's TTL without having written it again for good; otherwise attached to no lease.
   */
  write(key: string, value: string, provisional: boolean): Promise<void>;
  /** Called when the provisional lease is lost (etcd out of reach past its TTL): its keys are gone. */
  onProvisionalLost(listener: () => void): void;
  readMembers(key: string): Promise<MemberReport[]>;
  /** Calls onChange on every change under the key's members prefix and after each reconnect. */
  watchMembers(key: string, onChange: () => void): Promise<() => Promise<void>>;
  close(): void;
}

/** Unary calls fail after this long instead of hanging while etcd is down; the queue retries them. */
const CALL_DEADLINE_MS = 5_000;

/**
 * How long a provisional key outlives its operator. A new window's finalizer normally lands within a
 * second or two and the key is then written for good; this is how long consumers stay drained for a
 * window that was deleted before that, while no operator ran.
 */
export const PROVISIONAL_TTL_SECONDS = 30;

/** The operator's etcd client: the shared one, with nulls from the config as "not set". */
export function connectEtcd(config: OperatorConfig['etcd']): Etcd3 {
  const set = (v: string | null): string | undefined => v ?? undefined;
  return createEtcdClient({
    endpoints: config.hosts,
    caFile: set(config.caFile),
    certFile: set(config.certFile),
    keyFile: set(config.keyFile),
    username: set(config.username),
    password: set(config.password),
    callDeadlineMs: CALL_DEADLINE_MS,
  });
}

/**
 * At start: wrong TLS files or credentials are an error naming them, not a reconcile loop of timeouts.
 * A user without access to /maintenance/ may still own the keys its windows name, so that is not checked.
 */
export async function checkEtcdSettings(client: Etcd3, config: OperatorConfig['etcd']): Promise<void> {
  const set = (v: string | null): string | undefined => v ?? undefined;
  try {
    await checkEtcdAccess(client, {
      key: '/maintenance/',
      caFile: set(config.caFile),
      certFile: set(config.certFile),
      username: set(config.username),
    });
  } catch (err) {
    if (!(err instanceof KmaintError && err.code === 'ETCD_PERMISSION')) throw err;
  }
}

export class EtcdSwitches implements SwitchStore {
  private readonly client: Etcd3;
  private readonly log: Logger;
  /** The etcd user (ETCD_USERNAME), named in the error of a call its roles do not allow. */
  private readonly username: string | undefined;
  private provisional: Lease | null = null;
  /** The provisional lease's id once granted, to tell the keys on it from those on another's. */
  private provisionalId: string | null = null;
  private readonly lostListeners: (() => void)[] = [];

  constructor(client: Etcd3, log: Logger, username?: string | null) {
    this.client = client;
    this.log = log;
    this.username = username ?? undefined;
  }

  async read(key: string): Promise<StoredKey> {
    const res = await this.call('ETCD_READ', `read ${key}`, key, () => this.client.get(key).exec());
    const kv = res.kvs[0];
    if (kv === undefined) return { value: null, lease: 'none' };
    const lease = kv.lease === '0' ? 'none' : kv.lease === this.provisionalId ? 'mine' : 'other';
    return { value: kv.value.toString(), lease };
  }

  async write(key: string, value: string, provisional: boolean): Promise<void> {
    await this.call(
      'ETCD_WRITE',
      `write ${key}`,
      key,
      async () => {
        if (!provisional) {
          // A put without a lease also takes the key off the one it hung on.
          await this.client.put(key).value(value).exec();
          return;
        }
        // A lease that could not be granted is lost (and revoked): the retry grants another.
        const lease = this.provisionalLease();
        this.provisionalId = await lease.grant();
        await lease.put(key).value(value).exec();
      },
      'write',
    );
  }

  onProvisionalLost(listener: () => void): void {
    this.lostListeners.push(listener);
  }

  private provisionalLease(): Lease {
    if (this.provisional !== null && !this.provisional.revoked()) return this.provisional;
    const lease = this.client.lease(PROVISIONAL_TTL_SECONDS, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      if (this.provisional !== lease) return;
      this.log.warn({ err }, 'provisional lease lost: the keys on it are gone and are written again');
      this.dropProvisional();
      for (const listener of this.lostListeners) listener();
    });
    this.provisional = lease;
    return lease;
  }

  private dropProvisional(): void {
    this.provisional?.release();
    this.provisional = null;
    this.provisionalId = null;
  }

  async readMembers(key: string): Promise<MemberReport[]> {
    const raw = await this.call('ETCD_READ', `read members of ${key}`, membersPrefix(key), () =>
      this.client.getAll().prefix(membersPrefix(key)).strings(),
    );
    const reports: MemberReport[] = [];
    for (const [k, v] of Object.entries(raw)) {
      const parsed = parseMemberReport(v);
      // One bad report must not hide the others; it is logged and that member counts as not drained.
      if (parsed.ok) reports.push(parsed.value);
      else this.log.warn({ key: k, error: parsed.error }, 'ignoring unreadable member report');
    }
    return reports;
  }

  async watchMembers(key: string, onChange: () => void): Promise<() => Promise<void>> {
    let current: Watcher = await this.watchOnce(key, onChange);
    let cancelled = false;
    let failures = 0;
    const replace = (err: Error): void => {
      // etcd3 gives up on a watch whose revision was compacted away (and on some stream errors) without
      // reconnecting it: it is set up again from now, and what changed meanwhile is picked up by a re-read.
      this.log.warn({ key, err }, 'member watch failed; watching again');
      // etcd has cancelled it already: cancelling it again would ask about a watch id etcd3 has dropped.
      const dead = current;
      dead.removeAllListeners();
      dead.on('error', () => undefined);
      const again = (): void => {
        if (cancelled) return;
        this.watchOnce(key, onChange).then(
          (w) => {
            failures = 0;
            if (cancelled) {
              void w.cancel();
              return;
            }
            current = w;
            w.on('error', replace);
            onChange();
          },
          () => setTimeout(again, backoffDelay(++failures, 200, 5_000)).unref(),
        );
      };
      again();
    };
    current.on('error', replace);
    return async () => {
      cancelled = true;
      await current.cancel();
    };
  }

  private async watchOnce(key: string, onChange: () => void): Promise<Watcher> {
    const watcher: Watcher = await this.call(
      'ETCD_WATCH',
      `watch members of ${key}`,
      membersPrefix(key),
      () => this.client.watch().prefix(membersPrefix(key)).create(),
    );
    watcher.on('put', onChange);
    watcher.on('delete', onChange);
    // etcd3 re-creates the watch after a disconnect; what changed meanwhile is picked up by re-reading.
    watcher.on('connected', onChange);
    watcher.on('disconnected', (err) => this.log.warn({ key, err }, 'member watch disconnected'));
    return watcher;
  }

  close(): void {
    // The provisional lease is left to expire, not revoked: its keys stay on until the next leader has
    // written them again (for good, or on its own lease), instead of going off in between.
    this.dropProvisional();
    this.client.close();
  }

  /**
   * Runs one etcd call. A refusal by the user's roles becomes ETCD_PERMISSION naming the user and the key
   * (retrying alone does not help: the resync tries again, after someone changed the roles); any other
   * failure is `code`, retriable (etcd down, a leader change, a deadline).
   */
  private async call<T>(
    code: string,
    what: string,
    key: string,
    fn: () => Promise<T>,
    access: 'read' | 'write' = 'read',
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const problem = etcdSettingsProblem(err, { key, access, username: this.username });
      if (problem?.code === 'ETCD_PERMISSION') throw problem;
      throw new KmaintError(code, `etcd: could not ${what}: ${(err as Error).message}`, {
        retriable: true,
        cause: err,
      });
    }
  }
}
