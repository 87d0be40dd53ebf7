import { fail, ok, type Parsed } from './result.ts';

export const MEMBER_STATES = ['running', 'draining', 'maintenance', 'resuming'] as const;
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
   * The hard end (`until` of the switch value) this instance resumed at on its own, because the key still
   * said on after it: set from then until the switch next turns maintenance on. Absent otherwise.
   */
  resumedAtHardEnd?: string | null;
}

export const membersPrefix = (switchKey: string): string => `${switchKey}/members/`;
export const memberKey = (switchKey: string, id: string): string => `${membersPrefix(switchKey)}${id}`;

export function encodeMemberReport(report: MemberReport): string {
  return JSON.stringify({
    id: report.id,
    pod: report.pod,
    state: report.state,
    inFlight: report.inFlight,
    drainedAt: report.drainedAt,
    lastTransition: report.lastTransition,
    lastError: report.lastError,
    window: report.window,
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
  return ok({
    id: o.id,
    pod: (o.pod as string | undefined) ?? null,
    state: o.state as MemberState,
    inFlight: o.inFlight,
    drainedAt: (o.drainedAt as string | undefined) ?? null,
    lastTransition: o.lastTransition,
    lastError: (o.lastError as string | undefined) ?? null,
    window: (o.window as string | undefined) ?? null,
    ...(typeof o.resumedAtHardEnd === 'string' ? { resumedAtHardEnd: o.resumedAtHardEnd } : {}),
  });
}
