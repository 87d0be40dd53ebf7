import { CronExpressionParser } from 'cron-parser';
import { fail, ok, type Parsed } from '@kmaint/common';
import type { Schedule } from './window.ts';

/**
 * open: inside a window now. pending: the next window is ahead. ended: no window will open again.
 * capped: inside a scheduled window that maxDuration has already closed.
 */
export type Phase = 'open' | 'pending' | 'ended' | 'capped';

export interface ScheduleState {
  phase: Phase;
  /** Start of the current window (open or capped). */
  windowStartMs: number | null;
  /** When the current window closes, maxDuration included; null while it stays open until deleted. */
  windowEndMs: number | null;
  /** The next opening after the current window, or after now when none is open. */
  nextStartMs: number | null;
  /** The earliest time the phase can change by the clock alone; null: never. */
  nextBoundaryMs: number | null;
}

export interface ScheduleContext {
  createdMs: number;
  maxDurationMs: number | null;
}

/**
 * Overlapping or touching cron occurrences form one window, so the key never flickers off between them.
 * The cap bounds the work for a cron that fires far more often than its duration.
 */
const MAX_CHAINED_OCCURRENCES = 200;

/**
 * Where `nowMs` falls in the schedule. Fails only when cron-parser cannot walk the expression (it gives
 * up on some zones' half-hour DST shifts): that is reported, never mistaken for "no more windows".
 */
export function evaluateSchedule(
  schedule: Schedule,
  ctx: ScheduleContext,
  nowMs: number,
): Parsed<ScheduleState> {
  switch (schedule.kind) {
    case 'always':
      return ok(single(ctx.createdMs, null, ctx, nowMs));
    case 'once':
      return ok(single(schedule.startMs ?? ctx.createdMs, schedule.endMs, ctx, nowMs));
    case 'cron':
      try {
        return ok(recurring(schedule, ctx, nowMs));
      } catch (err) {
        return fail(
          `cannot compute the occurrences of cron "${schedule.cron}" in ${schedule.timeZone}: ${(err as Error).message}`,
        );
      }
  }
}

function capOf(startMs: number, ctx: ScheduleContext): number | null {
  return ctx.maxDurationMs === null ? null : startMs + ctx.maxDurationMs;
}

const minEnd = (a: number | null, b: number | null): number | null =>
  a === null ? b : b === null ? a : Math.min(a, b);

function single(startMs: number, endMs: number | null, ctx: ScheduleContext, nowMs: number): ScheduleState {
  const effectiveEnd = minEnd(endMs, capOf(startMs, ctx));
  if (nowMs < startMs) {
    return {
      phase: 'pending',
      windowStartMs: null,
      windowEndMs: null,
      nextStartMs: startMs,
      nextBoundaryMs: startMs,
    };
  }
  if (effectiveEnd === null || nowMs < effectiveEnd) {
    return {
      phase: 'open',
      windowStartMs: startMs,
      windowEndMs: effectiveEnd,
      nextStartMs: null,
      nextBoundaryMs: effectiveEnd,
    };
  }
  const capped = endMs === null || nowMs < endMs;
  return {
    phase: capped ? 'capped' : 'ended',
    windowStartMs: startMs,
    windowEndMs: effectiveEnd,
    nextStartMs: null,
    nextBoundaryMs: capped ? endMs : null,
  };
}

function recurring(
  schedule: Extract<Schedule, { kind: 'cron' }>,
  ctx: ScheduleContext,
  nowMs: number,
): ScheduleState {
  const { durationMs } = schedule;
  // next() is strictly after its start point, so starting at now - duration finds the earliest occurrence
  // whose window still covers now (prev() is avoided: it skips occurrences moved by a DST gap).
  const occurrences = CronExpressionParser.parse(schedule.cron, {
    currentDate: new Date(nowMs - durationMs),
    tz: schedule.timeZone,
  });
  const isRepeat = repeatedWallTime(schedule.timeZone);
  // A cron accepted by the parser always has a next occurrence (no endDate is set), so a throw here is a
  // failure to report, not the end of the schedule.
  const next = (): number => {
    for (;;) {
      const at = occurrences.next().getTime();
      if (!isRepeat(at)) return at;
    }
  };
  const first = next();
  if (first > nowMs) {
    return {
      phase: 'pending',
      windowStartMs: null,
      windowEndMs: null,
      nextStartMs: first,
      nextBoundaryMs: first,
    };
  }
  let end = first + durationMs;
  let following = next();
  for (let i = 0; following <= end && i < MAX_CHAINED_OCCURRENCES; i++) {
    end = Math.max(end, following + durationMs);
    following = next();
  }
  const cap = capOf(first, ctx);
  const windowEnd = minEnd(end, cap);
  if (cap !== null && cap <= nowMs) {
    return {
      phase: 'capped',
      windowStartMs: first,
      windowEndMs: windowEnd,
      nextStartMs: following,
      // At the scheduled end the reason changes from MaxDurationExceeded to between-windows.
      nextBoundaryMs: end,
    };
  }
  return {
    phase: 'open',
    windowStartMs: first,
    windowEndMs: windowEnd,
    nextStartMs: following,
    nextBoundaryMs: windowEnd,
  };
}

const DST_SHIFTS_MS = [30 * 60_000, 60 * 60_000];

/**
 * Whether an instant shows a local wall time that already occurred just before (the hour repeated when
 * clocks fall back). cron-parser fires such a time a second time only when its search starts inside the
 * repeated hour, so the answer would depend on when the operator looked; skipping repeats makes every
 * wall-clock time open at most once, the way cron daemons treat it.
 */
const wallClocks = new Map<string, Intl.DateTimeFormat>();

function repeatedWallTime(timeZone: string): (ms: number) => boolean {
  if (timeZone === 'UTC') return () => false;
  let wall = wallClocks.get(timeZone);
  if (wall === undefined) {
    wall = wallClockFormat(timeZone);
    wallClocks.set(timeZone, wall);
  }
  const format = wall;
  return (ms) => {
    const here = format.format(ms);
    return DST_SHIFTS_MS.some((shift) => format.format(ms - shift) === here);
  };
}

function wallClockFormat(timeZone: string): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat('en-CA', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
}
