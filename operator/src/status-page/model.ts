import { switchKey, type MemberReport, type MemberState } from '@kmaint/common';
import type { WindowObject } from '../kube/resources.ts';

/** What the status page shows of one window: its spec, its status as the operator wrote it, its members. */
export interface WindowView {
  namespace: string;
  name: string;
  key: string;
  mode: string;
  reason: string | null;
  /** One word for the badge: draining, drained, degraded, scheduled, waiting, ended, suspended, invalid, deleting. */
  state: string;
  /** The schedule in words, e.g. "2026-12-01T02:00:00Z → 2026-12-01T03:00:00Z" or "0 2 * * SUN for 1h (UTC)". */
  schedule: string;
  windowStart: string | null;
  windowEnd: string | null;
  nextStart: string | null;
  pods: { selected: number; notReady: number; drained: number; summary: string; draining: string[] } | null;
  conditions: { type: string; status: string; reason: string; message: string; since: string }[];
  members: MemberView[];
}

export interface MemberView {
  id: string;
  pod: string | null;
  state: MemberState;
  inFlight: number;
  since: string;
  drainedAt: string | null;
  /** Window start to drained, when both fall in the current window. */
  drainMs: number | null;
  lastError: string | null;
}

export interface StatusSnapshot {
  generatedAt: string;
  windows: WindowView[];
  /** Why member reports could not be read (etcd down), shown instead of failing the page. */
  membersError: string | null;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const num = (v: unknown): number => (typeof v === 'number' ? v : 0);

/** The switch key a window targets, or null when its target is unusable (the CRD forbids that). */
export function keyOf(window: WindowObject): string | null {
  const target = isObj(window.spec?.target) ? window.spec.target : {};
  try {
    return switchKey({ name: text(target.name) ?? undefined, key: text(target.key) ?? undefined });
  } catch {
    return null;
  }
}

export function buildWindowView(window: WindowObject, members: readonly MemberReport[]): WindowView {
  const spec = window.spec ?? {};
  const status = window.status ?? {};
  const conditions = (Array.isArray(status.conditions) ? status.conditions : []).filter(isObj).map((c) => ({
    type: String(c.type ?? ''),
    status: String(c.status ?? ''),
    reason: String(c.reason ?? ''),
    message: String(c.message ?? ''),
    since: String(c.lastTransitionTime ?? ''),
  }));
  const windowStart = text(status.windowStart);
  const windowEnd = text(status.windowEnd);
  const startMs = windowStart === null ? null : Date.parse(windowStart);
  const podsRaw = isObj(status.pods) ? status.pods : null;
  return {
    namespace: window.metadata.namespace,
    name: window.metadata.name,
    key: keyOf(window) ?? text(status.key) ?? '?',
    mode: text(spec.mode) ?? 'drain',
    reason: text(spec.reason),
    state: stateOf(window, conditions),
    schedule: describeSchedule(spec.schedule),
    windowStart,
    windowEnd,
    nextStart: text(status.nextStart),
    pods: podsRaw && {
      selected: num(podsRaw.selected),
      notReady: num(podsRaw.notReady),
      drained: num(podsRaw.drained),
      summary: String(podsRaw.summary ?? ''),
      draining: Array.isArray(podsRaw.draining) ? podsRaw.draining.map(String) : [],
    },
    conditions,
    members: [...members]
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((m) => {
        const drainedMs = m.drainedAt === null ? null : Date.parse(m.drainedAt);
        return {
          id: m.id,
          pod: m.pod,
          state: m.state,
          inFlight: m.inFlight,
          since: m.lastTransition,
          drainedAt: m.drainedAt,
          drainMs:
            startMs !== null && drainedMs !== null && drainedMs >= startMs && m.state === 'maintenance'
              ? drainedMs - startMs
              : null,
          lastError: m.lastError,
        };
      }),
  };
}

function stateOf(window: WindowObject, conditions: WindowView['conditions']): string {
  if (window.metadata.deletionTimestamp !== undefined) return 'deleting';
  const get = (type: string) => conditions.find((c) => c.type === type);
  if (get('Active')?.status === 'True') {
    if (get('Degraded')?.status === 'True') return 'degraded';
    return get('Drained')?.status === 'True' ? 'drained' : 'draining';
  }
  const scheduled = get('Scheduled');
  if (scheduled === undefined) return 'waiting';
  switch (scheduled.reason) {
    case 'Suspended':
      return 'suspended';
    case 'InvalidSchedule':
      return 'invalid';
    case 'Ended':
      return 'ended';
    case 'Upcoming':
    case 'Recurring':
      return 'scheduled';
    default:
      return get('Active')?.reason === 'MaxDurationExceeded' ? 'ended' : 'waiting';
  }
}

export function describeSchedule(schedule: unknown): string {
  if (!isObj(schedule)) return 'open until deleted';
  const cron = text(schedule.cron);
  if (cron !== null) {
    return `${cron} for ${text(schedule.duration) ?? '?'} (${text(schedule.timeZone) ?? 'UTC'})`;
  }
  const start = text(schedule.start);
  const end = text(schedule.end);
  if (start === null && end === null) return 'open until deleted';
  return `${start ?? 'from creation'} → ${end ?? 'until deleted'}`;
}
