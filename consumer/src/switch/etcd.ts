import { memberKey, type Desired, type MemberReport } from '@kmaint/common';
import {
  MemberReporter,
  SwitchWatcher,
  checkEtcdAccess,
  createEtcdClient,
  type EtcdConnectionOptions,
} from '@kmaint/common/etcd';
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { MemberReportSink, SwitchSource } from '../engine/types.ts';

/** How to reach etcd: endpoints (and TLS files, credentials), or a ready etcd3 client that stays open. */
export type EtcdConnection = Omit<EtcdConnectionOptions, 'callDeadlineMs'> | { client: Etcd3 };

/** etcd calls give up after this long, so an unreachable etcd is noticed and reported, not awaited. */
const ETCD_CALL_DEADLINE_MS = 3_000;

export interface EtcdMaintenance {
  switch: SwitchSource;
  reporter: MemberReportSink;
  /** Closes the client if it was made here. */
  release: () => void;
}

/**
 * The switch follower and the member reporter on one etcd client. A client made here is made on first
 * use (an engine never started opens nothing) and closed by release(); a given one is left open.
 */
export function etcdMaintenance(
  connection: EtcdConnection,
  options: { key: string; unavailable: 'keep' | 'maintenance'; memberId: string; logger: Logger },
): EtcdMaintenance {
  const given = 'client' in connection ? connection.client : null;
  let etcd: Etcd3 | null = given;
  const open = (): Etcd3 =>
    (etcd ??= createEtcdClient({
      ...(connection as Omit<EtcdConnectionOptions, 'callDeadlineMs'>),
      callDeadlineMs: ETCD_CALL_DEADLINE_MS,
    }));
  let watcher: SwitchWatcher | null = null;
  let reporter: MemberReporter | null = null;
  let desired: Desired | null = null;
  return {
    switch: {
      async start(on) {
        // Wrong TLS files, credentials or roles end the start with their reason; an etcd that is down
        // does not. The report's key is checked too: a member whose reports are refused would run on as
        // if the operator could see it drain.
        await checkEtcdAccess(open(), {
          ...('client' in connection ? {} : connection),
          key: options.key,
          writes: memberKey(options.key, options.memberId),
        });
        // The reporter follows the switch too: a resume at the window's hard end is said in every report.
        const desiredTo = (d: Desired): void => {
          desired = d;
          reporter?.follow(d);
          on.desired(d);
        };
        watcher = new SwitchWatcher(
          open(),
          { key: options.key, unavailable: options.unavailable, logger: options.logger },
          { ...on, desired: desiredTo },
        );
        await watcher.start();
      },
      close: async () => watcher?.close(),
    },
    reporter: {
      update(report: MemberReport) {
        if (reporter === null) {
          reporter = new MemberReporter(open(), options.key, options.memberId, options.logger);
          if (desired !== null) reporter.follow(desired);
        }
        reporter.update(report);
      },
      close: async () => reporter?.close(),
    },
    release: () => {
      if (given === null) etcd?.close();
    },
  };
}
