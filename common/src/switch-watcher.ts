import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { abortableDelay, backoffDelay } from './backoff.ts';
import { parseSwitchValue, toDesired, type Desired } from './switch.ts';

export interface SwitchWatcherOptions {
  key: string;
  /** While etcd cannot be read: keep the last known state, or ask for maintenance. */
  unavailable: 'keep' | 'maintenance';
  logger: Logger;
  /** First delay between attempts to reach etcd again; doubles up to 5 s. */
  retryBaseMs?: number;
  /**
   * While watching, the key is read again this often (default 10 s): a watch stream that went silent (a
   * half-open connection delivers neither events nor a disconnect) is noticed within this bound, and the
   * change it missed is applied.
   */
  recheckMs?: number;
}

const DEFAULT_RECHECK_MS = 10_000;

export interface SwitchCallbacks {
  desired: (desired: Desired) => void;
  invalid: (raw: string, error: string) => void;
  health: (healthy: boolean, detail: string) => void;
  restart: (reason: string) => void;
}

const ETCD_DOWN: Desired = {
  maintenance: true,
  mode: 'drain',
  reason: 'etcd unavailable (ETCD_UNAVAILABLE=maintenance)',
  window: null,
  drainTimeoutMs: null,
};

/**
 * Follows the switch key: reads it, then watches from that read's revision + 1; on a disconnect, a
 * compaction or any watch error it starts over with a fresh read, so no toggle is missed and none is
 * applied out of order (the revision only moves forward).
 */
export class SwitchWatcher {
  readonly #client: Etcd3;
  readonly #opts: SwitchWatcherOptions;
  readonly #on: SwitchCallbacks;
  readonly #closed = new AbortController();
  #lastRevision = -1n;
  /** mod_revision of the key's value last applied; 0n while the key does not exist. */
  #lastModRevision = 0n;
  #loop: Promise<void> | null = null;
  #hardEnd: NodeJS.Timeout | null = null;

  constructor(client: Etcd3, options: SwitchWatcherOptions, callbacks: SwitchCallbacks) {
    this.#client = client;
    this.#opts = options;
    this.#on = callbacks;
  }

  /**
   * Reads the key once and starts following it. Resolves after that first read, or after it failed (the
   * etcd-unavailable policy then applies and the watcher keeps trying in the background).
   */
  start(): Promise<void> {
    const first = Promise.withResolvers<undefined>();
    this.#loop = this.#run(() => first.resolve(undefined));
    return first.promise;
  }

  async close(): Promise<void> {
    this.#closed.abort();
    this.#disarm();
    await this.#loop;
  }

  async #run(firstAttemptDone: () => void): Promise<void> {
    let failures = 0;
    while (!this.#closed.signal.aborted) {
      try {
        const res = await this.#client.get(this.#opts.key).exec();
        const kv = res.kvs[0];
        // A read is the latest word, whatever was applied before (even the etcd-down policy's maintenance).
        this.#apply(kv?.value.toString() ?? null, BigInt(res.header.revision), true);
        this.#lastModRevision = kv === undefined ? 0n : BigInt(kv.mod_revision);
        this.#on.health(true, `watching ${this.#opts.key}`);
        failures = 0;
        firstAttemptDone();
        const why = await this.#watch(BigInt(res.header.revision) + 1n);
        if (!this.#closed.signal.aborted) {
          this.#on.restart(why);
          this.#opts.logger.info(
            { key: this.#opts.key, why },
            'switch watch ended; re-reading and re-watching',
          );
        }
      } catch (err) {
        failures += 1;
        const reason = `etcd read failed: ${err instanceof Error ? err.message : String(err)}`;
        this.#on.health(false, reason);
        if (this.#opts.unavailable === 'maintenance') {
          this.#disarm();
          this.#on.desired(ETCD_DOWN);
        }
        firstAttemptDone();
        this.#opts.logger.warn({ key: this.#opts.key, failures, err }, 'cannot read the maintenance switch');
        await abortableDelay(
          backoffDelay(failures, this.#opts.retryBaseMs ?? 200, 5_000),
          this.#closed.signal,
        ).catch(() => undefined);
      }
    }
  }

  /** Watches until the stream breaks or the watcher closes; returns why it ended. */
  async #watch(fromRevision: bigint): Promise<string> {
    const watcher: Watcher = this.#client
      .watch()
      .key(this.#opts.key)
      .startRevision(fromRevision.toString())
      .watcher();
    const ended = Promise.withResolvers<string>();
    watcher.on('put', (kv: IKeyValue) => {
      this.#lastModRevision = BigInt(kv.mod_revision);
      this.#apply(kv.value.toString(), BigInt(kv.mod_revision));
    });
    watcher.on('delete', (kv: IKeyValue) => {
      this.#lastModRevision = 0n;
      this.#apply(null, BigInt(kv.mod_revision));
    });
    const recheck = setInterval(() => {
      void this.#client
        .get(this.#opts.key)
        .exec()
        .then((res) => {
          const kv = res.kvs[0];
          const modRevision = kv === undefined ? 0n : BigInt(kv.mod_revision);
          // A value the watch should have delivered by now and did not: the stream is dead.
          if (modRevision !== this.#lastModRevision && BigInt(res.header.revision) > this.#lastRevision) {
            ended.resolve('watch missed a change (stalled stream)');
          }
        })
        .catch((err: unknown) => {
          ended.resolve(`re-read failed: ${err instanceof Error ? err.message : String(err)}`);
        });
    }, this.#opts.recheckMs ?? DEFAULT_RECHECK_MS);
    recheck.unref();
    watcher.on('disconnected', (err: Error) => {
      this.#on.health(false, `watch disconnected: ${err.message}`);
      ended.resolve(`watch disconnected: ${err.message}`);
    });
    watcher.on('error', (err: Error) => ended.resolve(`watch error: ${err.message}`));
    const onClose = (): void => ended.resolve('closed');
    this.#closed.signal.addEventListener('abort', onClose, { once: true });
    const why = await ended.promise;
    clearInterval(recheck);
    this.#closed.signal.removeEventListener('abort', onClose);
    watcher.removeAllListeners();
    // An EventEmitter throws an 'error' nobody listens to; this watcher's errors no longer matter.
    watcher.on('error', () => undefined);
    // cancel() can wait on a dead stream; the next read does not need it to have finished.
    void watcher.cancel().catch(() => undefined);
    return why;
  }

  #apply(raw: string | null, revision: bigint, fromRead = false): void {
    if (!fromRead && revision <= this.#lastRevision) return;
    if (revision > this.#lastRevision) this.#lastRevision = revision;
    const parsed = parseSwitchValue(raw);
    if (!parsed.ok) {
      this.#opts.logger.error(
        { key: this.#opts.key, raw, error: parsed.error },
        'unparseable switch value ignored',
      );
      this.#on.invalid(raw ?? '', parsed.error);
      return;
    }
    const desired = toDesired(parsed.value);
    this.#disarm();
    // A value already past its hard end (read again after a reconnect, or when starting) is not obeyed
    // for a moment first: it means resume.
    if (pastHardEnd(desired)) {
      this.#resumeAtHardEnd(desired);
      return;
    }
    this.#on.desired(desired);
    this.#armHardEnd(desired);
  }

  /**
   * Every value replaces the last one's timer. An "on" that carries `until` turns itself off once that
   * passes, so a consumer does not stay out of service for good when the operator that would have
   * turned the key off is gone (uninstalled, crashed, cut off from etcd).
   */
  #armHardEnd(desired: Desired): void {
    if (!desired.maintenance || desired.until === null || desired.until === undefined) return;
    const atMs = Date.parse(desired.until);
    const wait = (): void => {
      const left = atMs - Date.now();
      if (left <= 0) {
        this.#hardEnd = null;
        this.#resumeAtHardEnd(desired);
        return;
      }
      // setTimeout holds at most ~24.8 days; a later end waits in steps.
      this.#hardEnd = setTimeout(wait, Math.min(left, 2 ** 31 - 1));
      this.#hardEnd.unref();
    };
    wait();
  }

  #resumeAtHardEnd(desired: Desired): void {
    const until = desired.until ?? '';
    const reason = `the window's hard end ${until} passed while the switch still said on: resumed on its own`;
    this.#opts.logger.warn({ key: this.#opts.key, until, window: desired.window }, reason);
    this.#on.desired({
      ...desired,
      maintenance: false,
      reason,
      drainTimeoutMs: null,
      resumedAtHardEnd: until,
    });
  }

  #disarm(): void {
    if (this.#hardEnd !== null) clearTimeout(this.#hardEnd);
    this.#hardEnd = null;
  }
}

function pastHardEnd(d: Desired): boolean {
  return d.maintenance && d.until !== null && d.until !== undefined && Date.parse(d.until) <= Date.now();
}
