import { encodeMemberReport, memberKey, type MemberReport } from './members.ts';
import type { Desired } from './switch.ts';
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from 'pino';

/** The report outlives a crashed process by at most this long. */
const LEASE_TTL_SECONDS = 10;
const RETRY_MS = 1_000;

/**
 * Writes this instance's MemberReport under <switch key>/members/<id>, attached to an etcd lease so it
 * vanishes when the process dies. Only the latest report matters: updates made while a write is under way
 * or while etcd is down collapse into one write of the newest report, retried until it lands.
 */
export class MemberReporter {
  readonly #client: Etcd3;
  readonly #key: string;
  readonly #logger: Logger;
  #lease: Lease | null = null;
  #latest: MemberReport | null = null;
  #written: string | null = null;
  #writing: Promise<void> | null = null;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;
  /** The report as last given, before the hard-end note is added, so the note can also be taken off. */
  #given: MemberReport | null = null;
  #resumedAtHardEnd: string | null = null;

  constructor(client: Etcd3, switchKey: string, id: string, logger: Logger) {
    this.#client = client;
    this.#key = memberKey(switchKey, id);
    this.#logger = logger;
  }

  update(report: MemberReport): void {
    this.#given = report;
    this.#latest =
      this.#resumedAtHardEnd === null ? report : { ...report, resumedAtHardEnd: this.#resumedAtHardEnd };
    this.#kick();
  }

  /**
   * Follows the switch follower's Desired: from a resume at the hard end (`resumedAtHardEnd`) on, every
   * report says so, until the switch asks for maintenance again.
   */
  follow(desired: Desired): void {
    const next = desired.resumedAtHardEnd ?? (desired.maintenance ? null : this.#resumedAtHardEnd);
    if (next === this.#resumedAtHardEnd) return;
    this.#resumedAtHardEnd = next;
    if (this.#given !== null) this.update(this.#given);
  }

  /** Waits for the pending write (if etcd answers) and revokes the lease, removing the report. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    await this.#writing;
    const lease = this.#lease;
    this.#lease = null;
    await lease
      ?.revoke()
      .catch((err: unknown) => this.#logger.warn({ err }, 'could not revoke the member lease'));
  }

  #kick(): void {
    if (this.#closed || this.#writing !== null || this.#retry !== null) return;
    this.#writing = this.#flush().then((written) => {
      this.#writing = null;
      if (!written) {
        this.#retry = setTimeout(() => {
          this.#retry = null;
          this.#kick();
        }, RETRY_MS);
      } else if (this.#latest !== null && encodeMemberReport(this.#latest) !== this.#written) {
        this.#kick();
      }
    });
  }

  /** Writes the latest report; false if etcd refused (the lease is then dropped and granted anew). */
  async #flush(): Promise<boolean> {
    const report = this.#latest;
    if (report === null) return true;
    const value = encodeMemberReport(report);
    if (value === this.#written) return true;
    try {
      if (this.#lease === null || this.#lease.revoked()) this.#lease = this.#grant();
      await this.#lease.put(this.#key).value(value).exec();
      this.#written = value;
      return true;
    } catch (err) {
      this.#logger.warn({ err, key: this.#key }, 'could not write the member report; retrying');
      this.#lease?.release();
      this.#lease = null;
      this.#written = null;
      return false;
    }
  }

  #grant(): Lease {
    const lease = this.#client.lease(LEASE_TTL_SECONDS, { autoKeepAlive: true });
    lease.on('lost', (err) => {
      this.#logger.warn({ err: err.message, key: this.#key }, 'member lease lost; writing the report again');
      if (this.#lease === lease) this.#lease = null;
      this.#written = null;
      this.#kick();
    });
    return lease;
  }
}
