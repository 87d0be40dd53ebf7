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

  it('walks zones with half-hour DST shifts', () => {
    // Lord Howe moves its clocks by 30 minutes; 2026-03-29 is a Sunday, LHDT (+11).
    const s: Schedule = {
      kind: 'cron',
      cron: '0 2 * * SUN',
      durationMs: 1_000,
      timeZone: 'Australia/Lord_Howe',
    };
    expect(evaluateSchedule(s, noCap, t('2026-03-28T15:00:00.500Z'))).toMatchObject({
      phase: 'open',
      windowStartMs: t('2026-03-28T15:00:00Z'),
    });
  });
});
