import { formatDuration, type MemberReport, type Parsed } from '@kmaint/common';
import {
  CONDITION,
  REASON,
  WARNING_REASONS,
  type Condition,
  type ConditionType,
  type Reason,
} from './conditions.ts';
import type { ScheduleState } from './schedule.ts';
import { matchesSelector } from './selector.ts';
import type { Window } from './window.ts';

export interface PodView {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** The pod's Ready condition is True. */
  ready: boolean;
}

export interface PodCounts {
  selected: number;
  notReady: number;
  drained: number;
  summary: string;
  draining: string[];
}

export interface WindowStatus {
  observedGeneration: number;
  key: string;
  conditions: Condition[];
  pods: PodCounts;
  windowStart?: string;
  windowEnd?: string;
  nextStart?: string;
  nextTransition: string;
}

export interface Transition {
  type: 'Normal' | 'Warning';
  reason: Reason;
  message: string;
}

export interface StatusInput {
  window: Window;
  /** Where now falls in the schedule, or why that could not be worked out (window.schedule's error too). */
  schedule: Parsed<ScheduleState>;
  /** Pods of the window's namespace; the selector is applied here. */
  pods: readonly PodView[];
  /** Reports under the window's key. */
  members: readonly MemberReport[];
  previous: readonly Condition[];
  nowMs: number;
  /** Why the window's key could not be brought in line, when the last attempt failed. */
  keyError?: { reason: Reason; message: string } | null;
  /** Why the member reports could not be read (`members` is then empty, not known). */
  membersError?: { reason: Reason; message: string } | null;
}

export interface StatusResult {
  status: WindowStatus;
  /** Whether this window holds its key on. */
  active: boolean;
  events: Transition[];
  /** When the status can next change by the clock alone (drain deadline, schedule boundary). */
  requeueAtMs: number | null;
}

/** The one rule for whether a window holds its key on: inside its schedule, not suspended, not deleting. */
export function holdsKeyOn(w: Window, schedule: Parsed<ScheduleState>): boolean {
  return schedule.ok && schedule.value.phase === 'open' && !w.suspend && !w.deleting;
}

/** Bounded so a large Deployment cannot bloat the object; the counts stay exact. */
export const MAX_LISTED_PODS = 20;

export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.000Z$/, 'Z');

/**
 * The whole status of one window from the schedule, the pods and the members' reports: pure, so
 * every reconcile derives it afresh (level-triggered) and a restarted operator reaches the same answer.
 */
export function computeStatus(input: StatusInput): StatusResult {
  const { window: w, nowMs } = input;
  const s = input.schedule.ok ? input.schedule.value : null;
  const at = iso(nowMs);
  const prev = new Map(input.previous.map((c) => [c.type, c]));
  const active = holdsKeyOn(w, input.schedule);

  const scheduled = scheduledCondition(input);
  const activeCond = activeCondition(input, active);
  const tracked = trackedPods(input);
  const drainedNames = tracked.filter((p) => p.drained).map((p) => p.name);
  const pending = tracked.filter((p) => !p.drained).map((p) => p.name);
  const pods: PodCounts = {
    selected: tracked.length,
    notReady: tracked.filter((p) => !p.ready).length,
    drained: drainedNames.length,
    summary: `${drainedNames.length}/${tracked.length}`,
    draining: active ? pending.slice(0, MAX_LISTED_PODS) : [],
  };

  const previousActive = prev.get(CONDITION.Active);
  const activeSinceMs =
    previousActive?.status === 'True' ? Date.parse(previousActive.lastTransitionTime) : nowMs;
  const openedMs = Math.max(s?.windowStartMs ?? nowMs, Number.isNaN(activeSinceMs) ? nowMs : activeSinceMs);
  const drainDeadlineMs = openedMs + w.drainTimeoutMs;
  const allDrained = pending.length === 0;

  let drained: Draft;
  let degraded: Draft;
  if (!active) {
    drained = ['False', REASON.NotActive, 'the window is not open'];
    degraded = ['False', REASON.NotActive, 'the window is not open'];
  } else if (input.membersError) {
    // Without the reports nobody is known drained, nor known late: neither is claimed.
    const unknown: Draft = ['Unknown', input.membersError.reason, input.membersError.message];
    drained = unknown;
    degraded = unknown;
  } else {
    if (tracked.length === 0) {
      // Not vacuously True: a mistyped selector must not tell `kubectl wait` that consumers are out of service.
      drained = ['False', REASON.NoPodsSelected, noPodsMessage(w)];
    } else if (allDrained) {
      drained = ['True', REASON.AllDrained, `all ${tracked.length} pods are out of service and drained`];
    } else {
      drained = [
        'False',
        REASON.Draining,
        `${drainedNames.length} of ${tracked.length} pods drained; waiting for ${listNames(pending)}`,
      ];
    }
    degraded =
      !allDrained && nowMs >= drainDeadlineMs
        ? [
            'True',
            REASON.DrainTimeoutExceeded,
            `not drained ${formatDuration(w.drainTimeoutMs)} after the window opened: ${listNames(pending)}`,
          ]
        : ['False', REASON.WithinDrainTimeout, 'no pod is past the drain timeout'];
  }

  const drafts: [ConditionType, Draft][] = [
    [CONDITION.Scheduled, scheduled],
    [CONDITION.Active, activeCond],
    [CONDITION.Drained, drained],
    [CONDITION.Degraded, degraded],
    [
      CONDITION.Reconciled,
      input.keyError
        ? ['False', input.keyError.reason, input.keyError.message]
        : input.membersError
          ? ['False', input.membersError.reason, input.membersError.message]
          : ['True', REASON.KeyInSync, `key ${w.key} holds what the windows for it ask`],
    ],
  ];
  const conditions: Condition[] = [];
  const events: Transition[] = [];
  for (const [type, [status, reason, message]] of drafts) {
    const old = prev.get(type);
    const sameStatus = old !== undefined && old.status === status;
    conditions.push({
      type,
      status,
      reason,
      message,
      lastTransitionTime: sameStatus ? old.lastTransitionTime : at,
      observedGeneration: w.generation,
    });
    // Reconciled speaks up only when something failed, or stopped failing.
    const changed =
      old === undefined
        ? type === CONDITION.Reconciled
          ? status === 'False'
          : status === 'True' || type === CONDITION.Scheduled || type === CONDITION.Active
        : old.status !== status || old.reason !== reason;
    if (changed) events.push({ type: WARNING_REASONS.has(reason) ? 'Warning' : 'Normal', reason, message });
  }

  const status: WindowStatus = {
    observedGeneration: w.generation,
    key: w.key,
    conditions,
    pods,
    nextTransition: nextTransition(input, active),
  };
  if (s !== null) {
    if (s.windowStartMs !== null) status.windowStart = iso(s.windowStartMs);
    if (s.windowEndMs !== null) status.windowEnd = iso(s.windowEndMs);
    if (s.nextStartMs !== null) status.nextStart = iso(s.nextStartMs);
  }

  const wakeups = [s?.nextBoundaryMs ?? null];
  if (active && !allDrained && drainDeadlineMs > nowMs) wakeups.push(drainDeadlineMs);
  const future = wakeups.filter((t): t is number => t !== null && t > nowMs);
  return { status, active, events, requeueAtMs: future.length === 0 ? null : Math.min(...future) };
}

type Draft = [Condition['status'], Reason, string];

function scheduledCondition({ window: w, schedule }: StatusInput): Draft {
  if (!schedule.ok) return ['False', REASON.InvalidSchedule, schedule.error];
  const s = schedule.value;
  if (w.deleting) return ['False', REASON.Deleting, 'the window is being deleted'];
  if (w.suspend) return ['False', REASON.Suspended, 'spec.suspend is true'];
  if (!w.schedule.ok) return ['False', REASON.InvalidSchedule, w.schedule.error];
  const sched = w.schedule.value;
  if (sched.kind === 'cron') {
    const every = `cron "${sched.cron}" in ${sched.timeZone}, open ${formatDuration(sched.durationMs)} each time`;
    return s.phase === 'ended'
      ? ['False', REASON.Ended, `${every}; no further occurrence`]
      : ['True', REASON.Recurring, every];
  }
  switch (s.phase) {
    case 'pending':
      return ['True', REASON.Upcoming, `opens at ${iso(s.nextStartMs as number)}`];
    case 'open':
      return sched.kind === 'always'
        ? ['True', REASON.Unscheduled, 'no schedule: open from creation until deleted']
        : ['True', REASON.InWindow, `open since ${iso(s.windowStartMs as number)}`];
    default:
      return ['False', REASON.Ended, `the window closed at ${iso(s.windowEndMs as number)}`];
  }
}

function activeCondition({ window: w, schedule, keyError }: StatusInput, active: boolean): Draft {
  if (!schedule.ok || !w.schedule.ok) {
    return ['False', REASON.InvalidSchedule, `key ${w.key} is not switched by this window: invalid schedule`];
  }
  const s = schedule.value;
  if (w.deleting) return ['False', REASON.Deleting, 'the window is being deleted'];
  if (w.suspend) return ['False', REASON.Suspended, `suspended: key ${w.key} is not held on by this window`];
  if (active) {
    // Active says the key is on: while the last attempt to bring it in line failed, that is not known
    // (the write may have been refused), so the window is open but not Active, for the same reason.
    if (keyError) {
      return ['False', keyError.reason, `the window is open, but key ${w.key} is not known to be on`];
    }
    const until = s.windowEndMs === null ? 'until the window is deleted' : `until ${iso(s.windowEndMs)}`;
    return ['True', REASON.WindowOpen, `key ${w.key} is on ${until}`];
  }
  switch (s.phase) {
    case 'pending':
      return [
        'False',
        w.schedule.value.kind === 'cron' ? REASON.BetweenWindows : REASON.NotStarted,
        `opens at ${iso(s.nextStartMs as number)}`,
      ];
    case 'capped':
      return [
        'False',
        REASON.MaxDurationExceeded,
        `maxDuration ${formatDuration(w.maxDurationMs ?? 0)} ended the window at ${iso(s.windowEndMs as number)}`,
      ];
    default:
      return ['False', REASON.WindowEnded, 'the window has ended'];
  }
}

interface Tracked {
  name: string;
  ready: boolean;
  drained: boolean;
}

function trackedPods({ window: w, pods, members }: StatusInput): Tracked[] {
  if (w.selector === null) {
    // Without a selector the members reporting under the key are the population; a member reports
    // not-ready for every state but running (the service's /readyz).
    return members
      .map((m) => ({ name: m.pod ?? m.id, ready: m.state === 'running', drained: m.state === 'maintenance' }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
  const byPod = new Map<string, MemberReport>();
  for (const m of members) {
    byPod.set(m.id, m);
    if (m.pod !== null) byPod.set(m.pod, m);
  }
  const selector = w.selector;
  return pods
    .filter((p) => matchesSelector(p.labels, selector))
    .map((p) => ({
      name: p.name,
      ready: p.ready,
      drained: !p.ready && byPod.get(p.name)?.state === 'maintenance',
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, MAX_LISTED_PODS).join(', ');
  return names.length > MAX_LISTED_PODS ? `${shown} and ${names.length - MAX_LISTED_PODS} more` : shown;
}

function noPodsMessage(w: Window): string {
  return w.selector === null ? `no member reports under ${w.key}` : 'the selector matches no pod';
}

function nextTransition({ window: w, schedule }: StatusInput, active: boolean): string {
  if (!schedule.ok) return 'invalid schedule';
  if (w.deleting) return 'deleting';
  if (w.suspend) return 'suspended';
  const s = schedule.value;
  if (active) return s.windowEndMs === null ? 'open until deleted' : `ends ${iso(s.windowEndMs)}`;
  return s.nextStartMs === null ? 'ended' : `starts ${iso(s.nextStartMs)}`;
}
