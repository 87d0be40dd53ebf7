import { describe, expect, it } from 'vitest';
import {
  evaluateSchedule as evaluate,
  type ScheduleContext,
  type ScheduleState,
} from '../../src/core/schedule.ts';
import type { Schedule } from '../../src/core/window.ts';

const t = (s: string): number => Date.parse(s);
function at(s: Schedule, ctx: ScheduleContext, now: string): ScheduleState {
  const r = evaluate(s, ctx, t(now));
  if (!r.ok) throw new Error(r.error);
  return r.value;
}
const created = { createdMs: t('2026-01-01T00:00:00Z'), maxDurationMs: null };
const cron = (expr: string, durationMs: number, timeZone: string): Schedule => ({
  kind: 'cron',
  cron: expr,
  durationMs,
  timeZone,
});
const HOUR = 3_600_000;

describe('chained occurrences across DST', () => {
  // Hourly from 01:00 to 04:00 local, an hour each: one window from 01:00 to 05:00 wall time.
  const nightly = cron('0 1-4 * * *', HOUR, 'Europe/Berlin');

  it('stays open through the repeated hour of a fall-back night', () => {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET. 01:00 CEST = 23:00Z the day before; 05:00 CET = 04:00Z.
    for (const now of [
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:00:00Z',
      '2026-10-25T01:30:00Z',
      '2026-10-25T03:59:00Z',
    ]) {
      expect(at(nightly, created, now), now).toMatchObject({
        phase: 'open',
        windowStartMs: t('2026-10-24T23:00:00Z'),
        windowEndMs: t('2026-10-25T04:00:00Z'),
      });
    }
  });

  it('stays open through the skipped hour of a spring-forward night', () => {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST. 01:00 CET = 00:00Z; 05:00 CEST = 03:00Z.
    for (const now of [
      '2026-03-29T00:30:00Z',
      '2026-03-29T01:00:00Z',
      '2026-03-29T01:30:00Z',
      '2026-03-29T02:59:00Z',
    ]) {
      expect(at(nightly, created, now), now).toMatchObject({
        phase: 'open',
        windowStartMs: t('2026-03-29T00:00:00Z'),
        windowEndMs: t('2026-03-29T03:00:00Z'),
      });
    }
  });

  it('stays open when the repeated half hour of Lord Howe holds no occurrence', () => {
    // 2026-04-05: 02:00 LHDT (+11) becomes 01:30 LHST (+10:30). Hourly, an hour each, 00:00 to 04:00.
    const lordHowe = cron('0 0-3 * * *', HOUR, 'Australia/Lord_Howe');
    // 00:00 LHDT = 13:00Z on the 4th; 04:00 LHST = 17:30Z.
    for (const now of ['2026-04-04T14:45:00Z', '2026-04-04T15:15:00Z', '2026-04-04T17:00:00Z']) {
      expect(at(lordHowe, created, now), now).toMatchObject({
        phase: 'open',
        windowStartMs: t('2026-04-04T13:00:00Z'),
        windowEndMs: t('2026-04-04T17:30:00Z'),
      });
    }
  });
});

describe('a chain is one window', () => {
  const sixHours = cron('0 1-6 * * *', HOUR, 'UTC');

  it('windowStart is the chain start and stays put while the chain runs', () => {
    for (const now of ['2026-06-01T01:30:00Z', '2026-06-01T03:30:00Z', '2026-06-01T06:59:00Z']) {
      expect(at(sixHours, created, now), now).toMatchObject({
        phase: 'open',
        windowStartMs: t('2026-06-01T01:00:00Z'),
        windowEndMs: t('2026-06-01T07:00:00Z'),
        nextStartMs: t('2026-06-02T01:00:00Z'),
      });
    }
  });

  it('maxDuration caps the chain measured from its start', () => {
    const ctx = { ...created, maxDurationMs: 2 * HOUR };
    expect(at(sixHours, ctx, '2026-06-01T02:30:00Z')).toMatchObject({
      phase: 'open',
      windowStartMs: t('2026-06-01T01:00:00Z'),
      windowEndMs: t('2026-06-01T03:00:00Z'),
    });
    for (const now of ['2026-06-01T03:00:00Z', '2026-06-01T05:30:00Z']) {
      expect(at(sixHours, ctx, now), now).toMatchObject({
        phase: 'capped',
        windowStartMs: t('2026-06-01T01:00:00Z'),
        windowEndMs: t('2026-06-01T03:00:00Z'),
        nextBoundaryMs: t('2026-06-01T07:00:00Z'),
      });
    }
    expect(at(sixHours, ctx, '2026-06-01T07:00:00Z')).toMatchObject({
      phase: 'pending',
      nextStartMs: t('2026-06-02T01:00:00Z'),
    });
  });
});
