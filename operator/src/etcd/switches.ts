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

/** What the reconciler needs from etcd: read and write switch keys, read and follow member reports. */
export interface SwitchStore {
  /** The key's value; null when it is missing. */
  read(key: string): Promise<string | null>;
  /** Puts the value with no lease (an off, which also takes the key off the lease it hung on). */
  write(key: string, value: string): Promise<void>;
  /**
   * Puts the value unless the key holds exactly it already on the lease it should hang on, in one round
   * trip. `provisional`: this instance's lease, so etcd deletes the key (off) once the instance is gone
   * for the lease's TTL without having written it again for good; otherwise no lease. A key on another
   * instance's lease (which may be gone) is written again either way.
   */
  ensure(key: string, value: string, provisional: boolean): Promise<Ensured>;
  /** Called when the provisional lease is lost (etcd out of reach past its TTL): its keys are gone. */
  onProvisionalLost(listener: () => void): void;
  readMembers(key: string): Promise<MemberReport[]>;
  /** Calls onChange on every change under the key's members prefix and after each reconnect. */
  watchMembers(key: string, onChange: () => void): Promise<() => Promise<void>>;
  close(): void;
}

/** What `ensure` did: whether it wrote, and what the key held before (null: missing, or compacted away). */
export interface Ensured {
  written: boolean;
  previous: string | null;
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
  private readonly lostListeners: (() => void)[] = [];

  constructor(client: Etcd3, log: Logger, username?: string | null) {
    this.client = client;
    this.log = log;
    this.username = username ?? undefined;
  }

  async read(key: string): Promise<string | null> {
    const res = await this.call('ETCD_READ', `read ${key}`, key, () => this.client.get(key).exec());
    return res.kvs[0]?.value.toString() ?? null;
  }

  async write(key: string, value: string): Promise<void> {
    await this.call(
      'ETCD_WRITE',
      `write ${key}`,
      key,
      () => this.client.put(key).value(value).exec(),
      'write',
    );
  }

  async ensure(key: string, value: string, provisional: boolean): Promise<Ensured> {
    try {
      return await this.compareAndPut(key, value, provisional);
    } catch (err) {
      // The transaction needs read and write: a user who may not even read the key is told that.
      if (err instanceof KmaintError && err.code === 'ETCD_PERMISSION') await this.read(key);
      throw err;
    }
  }

  private compareAndPut(key: string, value: string, provisional: boolean): Promise<Ensured> {
    return this.call(
      'ETCD_WRITE',
      `write ${key}`,
      key,
      async () => {
        // A lease that could not be granted is lost (and revoked): the retry grants another.
        const lease = provisional ? await this.provisionalLease().grant() : '0';
        // A missing key fails the value comparison, so it is written too.
        const res = await this.client
          .if(key, 'Value', '==', value)
          .and(key, 'Lease', '==', lease)
          .else({
            request_put: { key: Buffer.from(key), value: Buffer.from(value), lease, prev_kv: true },
          })
          .commit();
        if (res.succeeded) return { written: false, previous: value };
        const previous = res.responses[0]?.response_put.prev_kv;
        return { written: true, previous: previous?.value.toString() ?? null };
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
