import fc from 'fast-check';
import { CronExpressionParser } from 'cron-parser';
import { describe, expect, it } from 'vitest';
import {
  evaluateSchedule as evaluate,
  type ScheduleContext,
  type ScheduleState,
} from '../../src/core/schedule.ts';
import type { Schedule } from '../../src/core/window.ts';

const t = (s: string): number => Date.parse(s);
function evaluateSchedule(s: Schedule, ctx: ScheduleContext, now: number): ScheduleState {
  const r = evaluate(s, ctx, now);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
const noCap = { createdMs: t('2026-01-01T00:00:00Z'), maxDurationMs: null };

describe('single windows', () => {
  const once: Schedule = {
    kind: 'once',
    startMs: t('2026-12-01T02:00:00Z'),
    endMs: t('2026-12-01T03:00:00Z'),
  };

  it('is pending before start, open inside, ended after', () => {
    expect(evaluateSchedule(once, noCap, t('2026-12-01T01:00:00Z'))).toMatchObject({
      phase: 'pending',
      nextStartMs: t('2026-12-01T02:00:00Z'),
      nextBoundaryMs: t('2026-12-01T02:00:00Z'),
    });
    expect(evaluateSchedule(once, noCap, t('2026-12-01T02:00:00Z'))).toMatchObject({
      phase: 'open',
      windowEndMs: t('2026-12-01T03:00:00Z'),
    });
    expect(evaluateSchedule(once, noCap, t('2026-12-01T03:00:00Z'))).toMatchObject({
      phase: 'ended',
      nextBoundaryMs: null,
    });
  });

  it('maxDuration caps an open window and says so until the scheduled end', () => {
    const ctx = { createdMs: 0, maxDurationMs: 10 * 60_000 };
    expect(evaluateSchedule(once, ctx, t('2026-12-01T02:05:00Z'))).toMatchObject({
      phase: 'open',
      windowEndMs: t('2026-12-01T02:10:00Z'),
    });
    expect(evaluateSchedule(once, ctx, t('2026-12-01T02:30:00Z'))).toMatchObject({
      phase: 'capped',
      nextBoundaryMs: t('2026-12-01T03:00:00Z'),
    });
  });

  it('an unscheduled window is open from creation, forever unless capped', () => {
    expect(evaluateSchedule({ kind: 'always' }, noCap, t('2030-01-01T00:00:00Z'))).toMatchObject({
      phase: 'open',
      windowStartMs: noCap.createdMs,
      windowEndMs: null,
      nextBoundaryMs: null,
    });
    const capped = { ...noCap, maxDurationMs: 4 * 3_600_000 };
    expect(evaluateSchedule({ kind: 'always' }, capped, t('2026-01-01T04:00:00Z')).phase).toBe('capped');
  });

  it('end alone means open now until end', () => {
    const s: Schedule = { kind: 'once', startMs: null, endMs: t('2026-01-02T00:00:00Z') };
    expect(evaluateSchedule(s, noCap, t('2026-01-01T12:00:00Z')).phase).toBe('open');
  });
});

describe('cron windows', () => {
  const sunday2am: Schedule = {
    kind: 'cron',
    cron: '0 2 * * SUN',
    durationMs: 3_600_000,
    timeZone: 'Europe/Berlin',
  };

  it('opens at 02:00 local time, in winter and in summer', () => {
    // 2026-12-06 is a Sunday, CET (UTC+1); 2026-07-05 a Sunday, CEST (UTC+2).
    expect(evaluateSchedule(sunday2am, noCap, t('2026-12-06T01:30:00Z'))).toMatchObject({
      phase: 'open',
      windowStartMs: t('2026-12-06T01:00:00Z'),
      windowEndMs: t('2026-12-06T02:00:00Z'),
      nextStartMs: t('2026-12-13T01:00:00Z'),
    });
    expect(evaluateSchedule(sunday2am, noCap, t('2026-07-05T00:30:00Z'))).toMatchObject({
      phase: 'open',
      windowStartMs: t('2026-07-05T00:00:00Z'),
    });
    expect(evaluateSchedule(sunday2am, noCap, t('2026-07-05T01:00:00Z'))).toMatchObject({
      phase: 'pending',
      nextStartMs: t('2026-07-12T00:00:00Z'),
    });
  });

  it('a 02:00 daily window still opens on the spring-forward day, when 02:00 does not exist', () => {
    const daily: Schedule = {
      kind: 'cron',
      cron: '0 2 * * *',
      durationMs: 30 * 60_000,
      timeZone: 'Europe/Berlin',
    };
    // 2026-03-29: clocks jump 02:00 -> 03:00 CEST; the occurrence moves to 03:00 CEST = 01:00Z.
    const s = evaluateSchedule(daily, noCap, t('2026-03-29T01:10:00Z'));
    expect(s).toMatchObject({ phase: 'open', windowStartMs: t('2026-03-29T01:00:00Z') });
  });

  it('a 02:30 daily window opens once on the fall-back day, when 02:30 happens twice', () => {
    const daily: Schedule = {
      kind: 'cron',
      cron: '30 2 * * *',
      durationMs: 10 * 60_000,
      timeZone: 'Europe/Berlin',
    };
    // 2026-10-25: 02:30 CEST = 00:30Z, then 02:30 CET = 01:30Z.
    expect(evaluateSchedule(daily, noCap, t('2026-10-25T00:35:00Z')).phase).toBe('open');
    // Whenever the operator looks during the repeated hour, the second 02:30 does not open it again.
    for (const now of ['2026-10-25T01:05:00Z', '2026-10-25T01:31:00Z', '2026-10-25T01:35:00Z']) {
      expect(evaluateSchedule(daily, noCap, t(now))).toMatchObject({
        phase: 'pending',
        nextStartMs: t('2026-10-26T01:30:00Z'),
      });
    }
  });

  it('touching occurrences form one window, so the key does not flicker', () => {
    const everyMinute: Schedule = { kind: 'cron', cron: '* * * * *', durationMs: 60_000, timeZone: 'UTC' };
    const s = evaluateSchedule(everyMinute, noCap, t('2026-01-01T00:00:30Z'));
    expect(s.phase).toBe('open');
    expect((s.windowEndMs as number) - t('2026-01-01T00:00:30Z')).toBeGreaterThan(60 * 60_000);
  });

  it('maxDuration caps a cron window until its scheduled end, then waits for the next', () => {
    const ctx = { createdMs: 0, maxDurationMs: 15 * 60_000 };
    const s = evaluateSchedule(sunday2am, ctx, t('2026-12-06T01:20:00Z'));
    expect(s).toMatchObject({
      phase: 'capped',
      windowEndMs: t('2026-12-06T01:15:00Z'),
      nextBoundaryMs: t('2026-12-06T02:00:00Z'),
      nextStartMs: t('2026-12-13T01:00:00Z'),
    });
  });

  it('reports a zone cron-parser cannot walk instead of calling the schedule ended', () => {
    // cron-parser 5 loops on Lord Howe's half-hour DST shift.
    const s: Schedule = {
      kind: 'cron',
      cron: '0 2 * * SUN',
      durationMs: 1_000,
      timeZone: 'Australia/Lord_Howe',
    };
    const r = evaluate(s, noCap, 1774710001000);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toContain('Australia/Lord_Howe');
  });
});

const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Pacific/Chatham', 'Asia/Kolkata'];
const crons = ['0 2 * * SUN', '30 2 * * *', '*/15 * * * *', '0 0 1 * *', '0 */6 * * 1-5', '15 3 * * *'];
const nowArb = fc.integer({ min: t('2025-01-01T00:00:00Z'), max: t('2028-12-31T00:00:00Z') });

function offsetChanged(timeZone: string, ms: number): boolean {
  const f = new Intl.DateTimeFormat('en', { timeZone, timeZoneName: 'shortOffset' });
  return f.format(ms) !== f.format(ms - 3_600_000);
}

// Each run walks cron-parser through time zones: slow on a shared 2-core machine, so a generous timeout.
describe('properties of cron windows', { timeout: 60_000 }, () => {
  const scheduleArb = fc.record({
    kind: fc.constant('cron' as const),
    cron: fc.constantFrom(...crons),
    durationMs: fc.integer({ min: 1_000, max: 3 * 3_600_000 }),
    timeZone: fc.constantFrom(...zones),
  });

  it('open means now lies inside [windowStart, windowEnd), pending means the next start is ahead', () => {
    fc.assert(
      fc.property(scheduleArb, nowArb, (s, now) => {
        const st = evaluateSchedule(s, noCap, now);
        if (st.phase === 'open') {
          expect(st.windowStartMs as number).toBeLessThanOrEqual(now);
          expect(st.windowEndMs as number).toBeGreaterThan(now);
          expect(st.nextBoundaryMs).toBe(st.windowEndMs);
        } else {
          expect(st.phase).toBe('pending');
          expect(st.nextStartMs as number).toBeGreaterThan(now);
          expect(st.nextBoundaryMs).toBe(st.nextStartMs);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('window starts are occurrences of the cron, and pending means no occurrence covers now', () => {
    fc.assert(
      fc.property(scheduleArb, nowArb, (s, now) => {
        const st = evaluateSchedule(s, noCap, now);
        const start = st.phase === 'open' ? (st.windowStartMs as number) : (st.nextStartMs as number);
        const check = CronExpressionParser.parse(s.cron, { tz: s.timeZone });
        // An occurrence that falls into a spring-forward gap runs just after it instead.
        expect(check.includesDate(new Date(start)) || offsetChanged(s.timeZone, start)).toBe(true);
        if (st.phase === 'pending') {
          // The occurrence just before the next one ended before now.
          const before = CronExpressionParser.parse(s.cron, {
            currentDate: new Date(now - s.durationMs),
            tz: s.timeZone,
          });
          expect(before.next().getTime()).toBeGreaterThan(now);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('the phase does not change before the announced boundary', () => {
    fc.assert(
      fc.property(scheduleArb, nowArb, fc.double({ min: 0, max: 0.999, noNaN: true }), (s, now, f) => {
        const st = evaluateSchedule(s, noCap, now);
        const boundary = st.nextBoundaryMs as number;
        const between = now + Math.floor((boundary - now) * f);
        expect(evaluateSchedule(s, noCap, between).phase).toBe(st.phase);
      }),
      { numRuns: 100 },
    );
  });
});
