import { fail, ok, type Parsed } from './result.ts';

export const MAINTENANCE_MODES = ['drain', 'pause'] as const;
/** drain: leave the consumer group (what GoMaint does); pause: stay in it, stop fetching. */
export type MaintenanceMode = (typeof MAINTENANCE_MODES)[number];

/** The value of the switch key /maintenance/<target> (docs/architecture.md, "The flow"). */
export interface SwitchValue {
  enabled: boolean;
  mode: MaintenanceMode;
  reason?: string;
  /** "<namespace>/<name>" of the MaintenanceWindow that turned it on, when the operator wrote it. */
  window?: string;
  drainTimeoutSeconds?: number;
  /**
   * The window's hard end (its end or its maxDuration cap), an ISO-8601 UTC instant. Past it a consumer
   * resumes on its own even if the key still says on: the operator that would have turned it off may be
   * gone. Absent for a window with no end.
   */
  until?: string;
}

const TRUE_WORDS = new Set(['true', '1', 'on', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'off', 'no']);

/**
 * Version of the switch value's JSON format (its `v` field; absent means 1). Fields are only ever added
 * within a version, so a reader reads the fields it knows whatever `v` says; the encoder writes the
 * version it speaks.
 */
export const SWITCH_VALUE_VERSION = 1;

export const SWITCH_OFF: SwitchValue = Object.freeze({ enabled: false, mode: 'drain' });

/** The switch key of a target: a full key as given, or /maintenance/<name>. */
export function switchKey(target: { name?: string; key?: string }): string {
  if (target.key !== undefined && target.key !== '') return target.key;
  if (target.name !== undefined && target.name !== '') return `/maintenance/${target.name}`;
  throw new TypeError('a target needs a name or a key');
}

/**
 * Reads a switch value as GoMaint writes it (true/false, 1/0, on/off, yes/no, any case) or as the
 * operator writes it (a JSON object). A missing key (undefined/null) means off. Anything else is an error
 * to report, never a guess: the caller keeps its current state.
 */
export function parseSwitchValue(raw: string | null | undefined): Parsed<SwitchValue> {
  if (raw === null || raw === undefined) return ok(SWITCH_OFF);
  const text = raw.trim();
  const word = text.toLowerCase();
  if (TRUE_WORDS.has(word)) return ok({ enabled: true, mode: 'drain' });
  if (FALSE_WORDS.has(word)) return ok(SWITCH_OFF);
  if (!text.startsWith('{'))
    return fail(`switch value ${quote(raw)} is neither true/false/1/0/on/off/yes/no nor a JSON object`);

  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return fail(`switch value ${quote(raw)} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return fail('switch value must be a JSON object');
  const o = doc as Record<string, unknown>;
  if (o.v !== undefined && (typeof o.v !== 'number' || !Number.isInteger(o.v) || o.v < 1))
    return fail('switch value field "v" must be a whole number of at least 1');
  if (typeof o.enabled !== 'boolean') return fail('switch value field "enabled" must be a boolean');
  const value: SwitchValue = { enabled: o.enabled, mode: 'drain' };
  if (o.mode !== undefined) {
    if (!MAINTENANCE_MODES.includes(o.mode as MaintenanceMode)) {
      return fail(
        `switch value field "mode" must be one of ${MAINTENANCE_MODES.join(', ')}, got ${JSON.stringify(o.mode)}`,
      );
    }
    value.mode = o.mode as MaintenanceMode;
  }
  if (o.reason !== undefined && o.reason !== null) {
    if (typeof o.reason !== 'string') return fail('switch value field "reason" must be a string');
    value.reason = o.reason;
  }
  if (o.window !== undefined && o.window !== null) {
    if (typeof o.window !== 'string') return fail('switch value field "window" must be a string');
    value.window = o.window;
  }
  if (o.drainTimeoutSeconds !== undefined && o.drainTimeoutSeconds !== null) {
    const t = o.drainTimeoutSeconds;
    if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
      return fail('switch value field "drainTimeoutSeconds" must be a positive number');
    }
    value.drainTimeoutSeconds = t;
  }
  if (o.until !== undefined && o.until !== null) {
    if (typeof o.until !== 'string' || Number.isNaN(Date.parse(o.until))) {
      return fail('switch value field "until" must be an ISO-8601 time such as 2026-12-01T03:00:00Z');
    }
    value.until = o.until;
  }
  return ok(value);
}

/** What the switch asks of a consumer, after parsing; `maintenance: false` means consume. */
export interface Desired {
  maintenance: boolean;
  mode: MaintenanceMode;
  reason: string | null;
  window: string | null;
  /** From the switch's `drainTimeoutSeconds`, else null (the configured drain timeout applies). */
  drainTimeoutMs: number | null;
  /** From the switch's `until`: when the window ends at the latest, whatever the key says then. */
  until?: string | null;
  /**
   * Set when the switch follower itself turned maintenance off because `until` passed while the key
   * still said on: the hard end it resumed at.
   */
  resumedAtHardEnd?: string | null;
}

export function toDesired(v: SwitchValue): Desired {
  return {
    maintenance: v.enabled,
    mode: v.mode,
    reason: v.reason ?? null,
    window: v.window ?? null,
    drainTimeoutMs: v.drainTimeoutSeconds === undefined ? null : v.drainTimeoutSeconds * 1000,
    until: v.until ?? null,
  };
}

/** The JSON the operator writes; fields in a fixed order so equal values compare equal as strings. */
export function encodeSwitchValue(value: SwitchValue): string {
  return JSON.stringify({
    v: SWITCH_VALUE_VERSION,
    enabled: value.enabled,
    mode: value.mode,
    reason: value.reason,
    window: value.window,
    drainTimeoutSeconds: value.drainTimeoutSeconds,
    until: value.until,
  });
}

function quote(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
}
