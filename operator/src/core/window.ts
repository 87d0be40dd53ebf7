import { CronExpressionParser } from 'cron-parser';
import {
  fail,
  MAINTENANCE_MODES,
  ok,
  parseDuration,
  switchKey,
  type MaintenanceMode,
  type Parsed,
} from '@kmaint/common';

export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export type Schedule =
  | { kind: 'always' }
  | { kind: 'once'; startMs: number | null; endMs: number | null }
  | { kind: 'cron'; cron: string; durationMs: number; timeZone: string };

/** A MaintenanceWindow reduced to what the reconciler decides on, times in epoch milliseconds. */
export interface Window {
  /** "<namespace>/<name>", as written into the switch value's `window`. */
  ref: string;
  namespace: string;
  name: string;
  generation: number;
  createdMs: number;
  deleting: boolean;
  key: string;
  selector: LabelSelector | null;
  mode: MaintenanceMode;
  drainTimeoutMs: number;
  reason: string | null;
  suspend: boolean;
  maxDurationMs: number | null;
  /** A bad schedule does not hide the window: its key is still managed (and kept off for it). */
  schedule: Parsed<Schedule>;
  /** KEDA ScaledObjects of the namespace paused while the window is active; null: none. */
  scaledObjects: { names: string[]; selector: LabelSelector | null } | null;
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 45_000;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * parseWindow, once per version of an object: key reconciles, pod events and the pod cache's selector
 * look at every window, on every event of a burst. An object without a resourceVersion is parsed every
 * time.
 */
const parsedWindows = new WeakMap<object, { version: string; parsed: Parsed<Window> }>();
export function parseWindowOnce(obj: { metadata: { resourceVersion?: string } }): Parsed<Window> {
  const version = obj.metadata.resourceVersion;
  if (version === undefined) return parseWindow(obj);
  const cached = parsedWindows.get(obj);
  if (cached?.version === version) return cached.parsed;
  const parsed = parseWindow(obj);
  parsedWindows.set(obj, { version, parsed });
  return parsed;
}

/**
 * Reads a MaintenanceWindow as the API returns it. The CRD schema has validated it already, but the
 * operator must not trust that (an older CRD, a hand-edited object): anything unusable is an error naming
 * the field, never a guess.
 */
export function parseWindow(raw: unknown): Parsed<Window> {
  if (!isObj(raw) || !isObj(raw.metadata)) return fail('object has no metadata');
  const meta = raw.metadata;
  const name = str(meta.name);
  const namespace = str(meta.namespace);
  if (name === undefined || namespace === undefined) return fail('object has no name or namespace');
  const spec = isObj(raw.spec) ? raw.spec : {};
  const target = isObj(spec.target) ? spec.target : {};
  const targetName = str(target.name);
  const targetKey = str(target.key);
  if ((targetName === undefined) === (targetKey === undefined)) {
    return fail('spec.target needs exactly one of name or key');
  }
  const mode = spec.mode ?? 'drain';
  if (!MAINTENANCE_MODES.includes(mode as MaintenanceMode)) {
    return fail(`spec.mode must be one of ${MAINTENANCE_MODES.join(', ')}`);
  }
  const drainTimeout = optionalDuration(spec.drainTimeout, 'spec.drainTimeout');
  if (!drainTimeout.ok) return drainTimeout;
  const maxDuration = optionalDuration(spec.maxDuration, 'spec.maxDuration');
  if (!maxDuration.ok) return maxDuration;
  const created = Date.parse(String(meta.creationTimestamp ?? ''));
  return ok({
    ref: `${namespace}/${name}`,
    namespace,
    name,
    generation: typeof meta.generation === 'number' ? meta.generation : 0,
    createdMs: Number.isNaN(created) ? 0 : created,
    deleting: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    key: switchKey({ name: targetName, key: targetKey }),
    selector: isObj(target.selector) ? (target.selector as LabelSelector) : null,
    mode: mode as MaintenanceMode,
    drainTimeoutMs: drainTimeout.value ?? DEFAULT_DRAIN_TIMEOUT_MS,
    reason: str(spec.reason) ?? null,
    suspend: spec.suspend === true,
    maxDurationMs: maxDuration.value,
    schedule: parseSchedule(spec.schedule),
    scaledObjects: parseScaledObjects(spec.autoscaling),
  });
}

function parseScaledObjects(raw: unknown): Window['scaledObjects'] {
  if (!isObj(raw) || !isObj(raw.scaledObjects)) return null;
  const so = raw.scaledObjects;
  const names = Array.isArray(so.names)
    ? so.names.filter((n): n is string => typeof n === 'string' && n !== '')
    : [];
  const selector = isObj(so.selector) ? (so.selector as LabelSelector) : null;
  return names.length === 0 && selector === null ? null : { names, selector };
}

function optionalDuration(v: unknown, field: string): Parsed<number | null> {
  if (v === undefined || v === null) return ok(null);
  if (typeof v !== 'string') return fail(`${field} must be a duration string such as 45s`);
  const d = parseDuration(v);
  if (!d.ok) return fail(`${field}: ${d.error}`);
  if (d.value <= 0) return fail(`${field} must be positive`);
  return d;
}

export function parseSchedule(raw: unknown): Parsed<Schedule> {
  if (raw === undefined || raw === null) return ok({ kind: 'always' });
  if (!isObj(raw)) return fail('spec.schedule must be an object');
  const hasOnce = raw.start !== undefined || raw.end !== undefined;
  if (raw.cron !== undefined) {
    if (hasOnce) return fail('spec.schedule: use either start/end or cron with duration, not both');
    const cron = str(raw.cron);
    if (cron === undefined) return fail('spec.schedule.cron must be a non-empty string');
    const duration = optionalDuration(raw.duration, 'spec.schedule.duration');
    if (!duration.ok) return duration;
    if (duration.value === null) return fail('spec.schedule.cron needs spec.schedule.duration');
    const timeZone = str(raw.timeZone) ?? 'UTC';
    if (!isTimeZone(timeZone))
      return fail(`spec.schedule.timeZone "${timeZone}" is not a known IANA time zone`);
    try {
      CronExpressionParser.parse(cron, { tz: timeZone, strict: false });
    } catch (err) {
      return fail(`spec.schedule.cron "${cron}" is not valid: ${(err as Error).message}`);
    }
    return ok({ kind: 'cron', cron, durationMs: duration.value, timeZone });
  }
  if (raw.duration !== undefined || raw.timeZone !== undefined) {
    return fail('spec.schedule.duration and timeZone need spec.schedule.cron');
  }
  if (!hasOnce) return ok({ kind: 'always' });
  const startMs = optionalTime(raw.start, 'spec.schedule.start');
  if (!startMs.ok) return startMs;
  const endMs = optionalTime(raw.end, 'spec.schedule.end');
  if (!endMs.ok) return endMs;
  if (startMs.value !== null && endMs.value !== null && endMs.value <= startMs.value) {
    return fail('spec.schedule.end must be after spec.schedule.start');
  }
  return ok({ kind: 'once', startMs: startMs.value, endMs: endMs.value });
}

function optionalTime(v: unknown, field: string): Parsed<number | null> {
  if (v === undefined || v === null) return ok(null);
  const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  return Number.isNaN(ms) ? fail(`${field} must be an RFC 3339 time such as 2026-12-01T02:00:00Z`) : ok(ms);
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
