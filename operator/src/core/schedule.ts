import { CronExpressionParser, type CronExpression } from 'cron-parser';
import { fail, ok, type Parsed } from '@kmaint/common';
import type { Schedule } from './window.ts';

/**
 * open: inside a window now. pending: the next window is ahead. ended: no window will open again.
 * capped: inside a scheduled window that maxDuration has already closed.
 */
export type Phase = 'open' | 'pending' | 'ended' | 'capped';

export interface ScheduleState {
  phase: Phase;
  /** Start of the current window (open or capped): for chained occurrences, the chain's start. */
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
 * How far a chain is followed forward. A cron that fires more often than its duration forms one window
 * that never closes; the window end reported is then where the walk stopped, and the next evaluation
 * there carries the same window on.
 */
const MAX_CHAINED_OCCURRENCES = 200;
/**
 * How far back the start of a chain is looked for. A chain longer than this is taken to run since the
 * window was created: an earlier start, never a later one, so maxDuration caps it sooner rather than later.
 */
const MAX_LOOKBACK_OCCURRENCES = 1_000;
/** More than any zone's DST shift (Antarctica/Troll moves two hours): margins of the wall-clock search. */
const SLACK_MS = 3 * 3_600_000;

/**
 * Where `nowMs` falls in the schedule. Fails only when the cron has no occurrence to compute (such as
 * February 30th): that is reported, never mistaken for "no more windows".
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

interface Chain {
  startMs: number;
  /** Scheduled end: the last elapsed end of its occurrences. */
  endMs: number;
  /** Whether the walk stopped before the chain did. */
  truncated: boolean;
}

/**
 * A cron's occurrences are computed on the wall clock, where there is no DST (cron-parser in UTC on
 * local times), and only then placed on the time line of the zone. That keeps every zone workable,
 * half-hour shifts included, and makes each wall-clock time open at most once: a time repeated when
 * clocks fall back opens at its first instance, a time skipped when they spring forward opens just after
 * the gap, the way cron daemons treat them.
 *
 * Occurrences that touch or overlap form one window (a chain), whether they touch on the wall clock or in
 * elapsed time, so a fall-back night (where an hour of wall time takes two) or a spring-forward night
 * (where it takes none) does not open a hole in the middle. The chain's start is its first occurrence; it
 * is what windowStart shows and what maxDuration is measured from.
 */
function recurring(
  schedule: Extract<Schedule, { kind: 'cron' }>,
  ctx: ScheduleContext,
  nowMs: number,
): ScheduleState {
  const zone = zoneOf(schedule.timeZone);
  const { durationMs } = schedule;
  const nowWall = zone.wallOf(nowMs);
  // Occurrences that ended before the window existed do not count, which also bounds the search.
  const floorWall = zone.wallOf(ctx.createdMs) - durationMs - SLACK_MS;

  let chain: Chain | null = null;
  let following: number | null = null;
  for (let lookback = durationMs + 2 * SLACK_MS; ; lookback *= 2) {
    const fromWall = Math.max(floorWall, nowWall - lookback);
    const found = chainAt(schedule, zone, fromWall, nowMs);
    // The walk is conclusive when nothing before its start can reach its first occurrence, or when it
    // started at the floor, or when it has gone as far back as it may.
    if (found.conclusive || fromWall === floorWall || found.walked >= MAX_LOOKBACK_OCCURRENCES) {
      if (
        !found.conclusive &&
        fromWall !== floorWall &&
        found.chain !== null &&
        found.chain.startMs <= nowMs
      ) {
        found.chain.startMs = firstAfter(schedule, zone, zone.wallOf(ctx.createdMs) - durationMs);
      }
      chain = found.chain;
      following = found.following;
      break;
    }
  }
  if (chain === null || chain.startMs > nowMs) {
    const next = chain?.startMs ?? (following as number);
    return {
      phase: 'pending',
      windowStartMs: null,
      windowEndMs: null,
      nextStartMs: next,
      nextBoundaryMs: next,
    };
  }
  const cap = capOf(chain.startMs, ctx);
  const windowEnd = minEnd(chain.endMs, cap);
  if (cap !== null && cap <= nowMs) {
    return {
      phase: 'capped',
      windowStartMs: chain.startMs,
      windowEndMs: windowEnd,
      nextStartMs: following,
      // At the scheduled end the reason changes from MaxDurationExceeded to between-windows.
      nextBoundaryMs: chain.endMs,
    };
  }
  return {
    phase: 'open',
    windowStartMs: chain.startMs,
    windowEndMs: windowEnd,
    nextStartMs: following,
    nextBoundaryMs: windowEnd,
  };
}

interface Walk {
  /** The chain that covers now or, failing that, the first one after now. */
  chain: Chain | null;
  /** The first occurrence after that chain. */
  following: number | null;
  conclusive: boolean;
  walked: number;
}

/** Walks the wall-clock occurrences after `fromWall`, joining them into chains, up to the one for now. */
function chainAt(
  schedule: Extract<Schedule, { kind: 'cron' }>,
  zone: Zone,
  fromWall: number,
  nowMs: number,
): Walk {
  const { durationMs } = schedule;
  const walls = wallOccurrences(schedule.cron, fromWall);
  let walked = 0;
  let ahead = 0;
  let chain: (Chain & { endWall: number }) | null = null;
  let conclusive = false;
  for (;;) {
    const wall = walls.next().getTime();
    walked++;
    const at = zone.instantOf(wall);
    if (walked === 1) conclusive = wall > fromWall + durationMs + SLACK_MS;
    if (chain !== null && (wall <= chain.endWall || at <= chain.endMs)) {
      chain.endWall = Math.max(chain.endWall, wall + durationMs);
      chain.endMs = Math.max(chain.endMs, at + durationMs);
      if (at > nowMs && ++ahead >= MAX_CHAINED_OCCURRENCES) {
        chain.truncated = true;
        return { chain, following: chain.endMs, conclusive, walked };
      }
      continue;
    }
    // This occurrence starts a new chain: the previous one is the answer if it reaches past now.
    if (chain !== null && chain.endMs > nowMs) return { chain, following: at, conclusive, walked };
    const next: Chain & { endWall: number } = {
      startMs: at,
      endMs: at + durationMs,
      endWall: wall + durationMs,
      truncated: false,
    };
    if (at > nowMs) return { chain: next, following: at, conclusive, walked };
    chain = next;
  }
}

function firstAfter(schedule: Extract<Schedule, { kind: 'cron' }>, zone: Zone, fromWall: number): number {
  return zone.instantOf(wallOccurrences(schedule.cron, fromWall).next().getTime());
}

/** The cron's occurrences as wall-clock times, written as if the wall clock were UTC. */
function wallOccurrences(cron: string, afterWall: number): CronExpression {
  return CronExpressionParser.parse(cron, { currentDate: new Date(afterWall), tz: 'UTC' });
}

interface Zone {
  /** The wall-clock time an instant shows, as milliseconds of a UTC clock showing the same. */
  wallOf(ms: number): number;
  /** The first instant showing a wall-clock time; for a time in a spring-forward gap, just after it. */
  instantOf(wall: number): number;
}

const zones = new Map<string, Zone>();
const UTC_ZONE: Zone = { wallOf: (ms) => ms, instantOf: (wall) => wall };
const DAY_MS = 86_400_000;

function zoneOf(timeZone: string): Zone {
  if (timeZone === 'UTC' || timeZone === 'Etc/UTC') return UTC_ZONE;
  let zone = zones.get(timeZone);
  if (zone === undefined) {
    zone = makeZone(timeZone);
    zones.set(timeZone, zone);
  }
  return zone;
}

function makeZone(timeZone: string): Zone {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  const wallOf = (ms: number): number => {
    const p = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
    for (const part of format.formatToParts(ms)) {
      if (part.type in p) p[part.type as keyof typeof p] = Number(part.value);
    }
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) + (((ms % 1000) + 1000) % 1000);
  };
  // Offsets a day either side are the ones before and after any transition near a wall time; an hour's
  // resolution is enough for them, so they are kept.
  const offsets = new Map<number, number>();
  const offsetNear = (ms: number): number => {
    const hour = Math.floor(ms / 3_600_000);
    let off = offsets.get(hour);
    if (off === undefined) {
      if (offsets.size > 50_000) offsets.clear();
      off = wallOf(hour * 3_600_000) - hour * 3_600_000;
      offsets.set(hour, off);
    }
    return off;
  };
  return {
    wallOf,
    instantOf: (wall) => {
      const before = offsetNear(wall - DAY_MS);
      const after = offsetNear(wall + DAY_MS);
      const candidates =
        before === after ? [wall - before] : [wall - before, wall - after].sort((a, b) => a - b);
      for (const at of candidates) if (wallOf(at) === wall) return at;
      // In a gap: the time the wall clock would show had it not jumped, which lies just after the gap.
      return wall - before;
    },
  };
}
