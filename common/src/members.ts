import { fail, ok, type Parsed } from './result.ts';

/**
 * `starting` (the switch not read yet) and `joining` (the switch is off and the member is not in its group
 * yet: at start, while a join fails, after its consumer died) are not maintenance; both were added after
 * the first four, so a reader must accept states it does not know.
 */
export const MEMBER_STATES = [
  'running',
  'draining',
  'maintenance',
  'resuming',
  'starting',
  'joining',
] as const;
export type MemberState = (typeof MEMBER_STATES)[number];

/**
 * What each consumer writes about itself under <switch key>/members/<id>, on an etcd lease so the report
 * goes when the process does. "Drained" means state "maintenance".
 */
export interface MemberReport {
  id: string;
  pod: string | null;
  state: MemberState;
  inFlight: number;
  /** ISO time the last drain finished; null until one has. */
  drainedAt: string | null;
  lastTransition: string;
  lastError: string | null;
  /** The window ("<namespace>/<name>") the instance is in maintenance for, if the switch named one. */
  window: string | null;
  /**
   * Only in reports of the agent sidecar, which reports for an app it reaches over localhost: whether the
   * app polled or reported within the agent's bound, and when it last did.
   */
  appResponding?: boolean;
  appLastSeen?: string | null;
  /**
   * The hard end (`until` of the switch value) this instance resumed at on its own, because the key still
   * said on after it: set from then until the switch next turns maintenance on. Absent otherwise.
   */
  resumedAtHardEnd?: string | null;
}

/**
 * Version of the member report's JSON format (its `v` field; absent means 1). Fields are only ever
 * added, so a reader reads the fields it knows whatever `v` says; the encoder writes the version it speaks.
 */
export const MEMBER_REPORT_VERSION = 1;

export const membersPrefix = (switchKey: string): string => `${switchKey}/members/`;
export const memberKey = (switchKey: string, id: string): string => `${membersPrefix(switchKey)}${id}`;

export function encodeMemberReport(report: MemberReport): string {
  return JSON.stringify({
    v: MEMBER_REPORT_VERSION,
    id: report.id,
    pod: report.pod,
    state: report.state,
    inFlight: report.inFlight,
    drainedAt: report.drainedAt,
    lastTransition: report.lastTransition,
    lastError: report.lastError,
    window: report.window,
    appResponding: report.appResponding,
    appLastSeen: report.appLastSeen,
    resumedAtHardEnd: report.resumedAtHardEnd ?? undefined,
  });
}

export function parseMemberReport(raw: string): Parsed<MemberReport> {
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (err) {
    return fail(`member report is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return fail('member report must be a JSON object');
  const o = doc as Record<string, unknown>;
  if (o.v !== undefined && (typeof o.v !== 'number' || !Number.isInteger(o.v) || o.v < 1))
    return fail('member report field "v" must be a whole number of at least 1');
  if (typeof o.id !== 'string' || o.id === '')
    return fail('member report field "id" must be a non-empty string');
  if (!MEMBER_STATES.includes(o.state as MemberState)) {
    return fail(`member report field "state" must be one of ${MEMBER_STATES.join(', ')}`);
  }
  if (typeof o.inFlight !== 'number' || !Number.isInteger(o.inFlight) || o.inFlight < 0) {
    return fail('member report field "inFlight" must be a non-negative integer');
  }
  if (typeof o.lastTransition !== 'string')
    return fail('member report field "lastTransition" must be a string');
  for (const field of ['pod', 'drainedAt', 'lastError', 'window', 'resumedAtHardEnd'] as const) {
    if (o[field] !== undefined && o[field] !== null && typeof o[field] !== 'string') {
      return fail(`member report field "${field}" must be a string or null`);
    }
  }
  if (o.appResponding !== undefined && typeof o.appResponding !== 'boolean')
    return fail('member report field "appResponding" must be a boolean');
  if (o.appLastSeen !== undefined && o.appLastSeen !== null && typeof o.appLastSeen !== 'string')
    return fail('member report field "appLastSeen" must be a string or null');
  return ok({
    id: o.id,
    pod: (o.pod as string | undefined) ?? null,
    state: o.state as MemberState,
    inFlight: o.inFlight,
    drainedAt: (o.drainedAt as string | undefined) ?? null,
    lastTransition: o.lastTransition,
    lastError: (o.lastError as string | undefined) ?? null,
    window: (o.window as string | undefined) ?? null,
    ...(o.appResponding === undefined ? {} : { appResponding: o.appResponding }),
    ...(o.appLastSeen === undefined ? {} : { appLastSeen: o.appLastSeen as string | null }),
    ...(typeof o.resumedAtHardEnd === 'string' ? { resumedAtHardEnd: o.resumedAtHardEnd } : {}),
  });
}
