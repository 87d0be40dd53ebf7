import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  evaluateSchedule as evaluate,
  type ScheduleContext,
  type ScheduleState,
} from '../../src/core/schedule.ts';
import type { Schedule } from '../../src/core/window.ts';

function evaluateSchedule(s: Schedule, ctx: ScheduleContext, now: number): ScheduleState {
  const r = evaluate(s, ctx, now);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Zones with one-hour, half-hour and two-hour shifts, both hemispheres, midnight transitions, zones that
// dropped or resumed DST, and one without DST.
const ZONES = [
  'Europe/Berlin',
  'Europe/London',
  'America/New_York',
  'America/St_Johns',
  'America/Santiago',
  'America/Havana',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Pacific/Auckland',
  'Africa/Cairo',
  'Asia/Gaza',
  'Antarctica/Troll',
  'Asia/Kolkata',
  'UTC',
];
const FROM = Date.parse('2025-01-01T00:00:00Z');
const TO = Date.parse('2031-01-01T00:00:00Z');

const offsetFormats = new Map<string, Intl.DateTimeFormat>();
function localParts(zone: string, ms: number): { hour: number; minute: number; offsetMs: number } {
  let f = offsetFormats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offsetFormats.set(zone, f);
  }
  const p = { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0 };
  for (const part of f.formatToParts(ms)) {
    if (part.type in p) p[part.type as keyof typeof p] = Number(part.value);
  }
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return { hour: p.hour, minute: p.minute, offsetMs: wall - Math.floor(ms / 1000) * 1000 };
}

/** Every offset change of a zone between FROM and TO, to the minute. */
function transitions(zone: string): number[] {
  const out: number[] = [];
  let prev = localParts(zone, FROM).offsetMs;
  for (let ms = FROM + 6 * HOUR; ms <= TO; ms += 6 * HOUR) {
    const off = localParts(zone, ms).offsetMs;
    if (off !== prev) {
      let lo = ms - 6 * HOUR;
      let hi = ms;
      while (hi - lo > 60_000) {
        const mid = lo + Math.floor((hi - lo) / 120_000) * 60_000;
        if (localParts(zone, mid).offsetMs === prev) lo = mid;
        else hi = mid;
      }
      out.push(hi);
      prev = off;
    }
  }
  return out;
}
const TRANSITIONS = new Map(ZONES.map((z) => [z, transitions(z)]));

/** A zone and an instant, most of them within a day of one of the zone's DST transitions. */
const zoneAndInstant = fc.constantFrom(...ZONES).chain((zone) => {
  const ts = TRANSITIONS.get(zone) ?? [];
  const anywhere = fc.integer({ min: FROM, max: TO });
  if (ts.length === 0) return fc.tuple(fc.constant(zone), anywhere);
  const near = fc.tuple(fc.constantFrom(...ts), fc.integer({ min: -DAY, max: DAY })).map(([tr, d]) => tr + d);
  return fc.tuple(
    fc.constant(zone),
    fc.oneof({ arbitrary: near, weight: 9 }, { arbitrary: anywhere, weight: 1 }),
  );
});

const CRONS = [
  '0 2 * * SUN',
  '30 2 * * *',
  '0 0-5 * * *',
  '*/30 1-3 * * *',
  '0 */6 * * 1-5',
  '15 3 * * *',
  '0 1,3 * * *',
];
const cronArb = (zone: string) =>
  fc.record({
    kind: fc.constant('cron' as const),
    cron: fc.constantFrom(...CRONS),
    durationMs: fc.oneof(
      fc.integer({ min: 1_000, max: 3 * HOUR }),
      fc.constantFrom(30 * 60_000, HOUR, 2 * HOUR),
    ),
    timeZone: fc.constant(zone),
  });
const caseArb = zoneAndInstant.chain(([zone, now]) =>
  fc.record({
    schedule: cronArb(zone),
    now: fc.constant(now),
    createdAgo: fc.integer({ min: 0, max: 60 * DAY }),
    maxDurationMs: fc.option(fc.integer({ min: 60_000, max: 4 * HOUR }), { nil: null }),
  }),
);

// Each run walks the calendar in Intl: slow on a shared 2-core machine, so a generous timeout.
describe('properties of cron windows around DST transitions', { timeout: 120_000 }, () => {
  it('the phase agrees with the times it reports', () => {
    fc.assert(
      fc.property(caseArb, ({ schedule, now, createdAgo, maxDurationMs }) => {
        const ctx = { createdMs: now - createdAgo, maxDurationMs };
        const st = evaluateSchedule(schedule, ctx, now);
        if (st.phase === 'open') {
          expect(st.windowStartMs as number).toBeLessThanOrEqual(now);
          expect(st.windowEndMs as number).toBeGreaterThan(now);
          expect(st.nextBoundaryMs).toBe(st.windowEndMs);
          if (maxDurationMs !== null) expect(now).toBeLessThan((st.windowStartMs as number) + maxDurationMs);
        } else if (st.phase === 'capped') {
          expect(maxDurationMs).not.toBeNull();
          expect(now).toBeGreaterThanOrEqual((st.windowStartMs as number) + (maxDurationMs as number));
          expect(st.windowEndMs).toBe((st.windowStartMs as number) + (maxDurationMs as number));
        } else {
          expect(st.phase).toBe('pending');
          expect(st.nextStartMs as number).toBeGreaterThan(now);
          expect(st.nextBoundaryMs).toBe(st.nextStartMs);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an open window is open at every instant of it, with the same start (no holes, no moving start)', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        ({ schedule, now, createdAgo }, f) => {
          const ctx = { createdMs: now - createdAgo, maxDurationMs: null };
          const st = evaluateSchedule(schedule, ctx, now);
          if (st.phase !== 'open') return;
          const start = st.windowStartMs as number;
          const end = st.windowEndMs as number;
          const x = start + Math.floor((end - start) * f);
          if (x < ctx.createdMs) return;
          expect(evaluateSchedule(schedule, ctx, x)).toMatchObject({
            phase: 'open',
            windowStartMs: start,
            windowEndMs: end,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('the phase does not change before the announced boundary', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        ({ schedule, now, createdAgo, maxDurationMs }, f) => {
          const ctx = { createdMs: now - createdAgo, maxDurationMs };
          const st = evaluateSchedule(schedule, ctx, now);
          const boundary = st.nextBoundaryMs as number;
          const between = now + Math.floor((boundary - now) * f);
          expect(evaluateSchedule(schedule, ctx, between)).toMatchObject({
            phase: st.phase,
            windowStartMs: st.windowStartMs,
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hourly occurrences from 00:00 to 05:00 local, an hour each, hold 01:00 to 05:00 local open every night', () => {
    fc.assert(
      fc.property(zoneAndInstant, fc.integer({ min: 0, max: 60 * DAY }), ([zone, now], createdAgo) => {
        const { hour } = localParts(zone, now);
        if (hour < 1 || hour > 4) return;
        const nightly: Schedule = { kind: 'cron', cron: '0 0-5 * * *', durationMs: HOUR, timeZone: zone };
        const ctx = { createdMs: now - DAY - createdAgo, maxDurationMs: null };
        const st = evaluateSchedule(nightly, ctx, now);
        expect(st.phase).toBe('open');
        // The chain starts at local midnight (or just after it, when midnight is skipped): at most 5 h of
        // wall time ago, plus a DST shift (Troll's is 2 h).
        expect(now - (st.windowStartMs as number)).toBeLessThanOrEqual(7 * HOUR);
      }),
      { numRuns: 400 },
    );
  });

  it('maxDuration closes a chain measured from its start', () => {
    fc.assert(
      fc.property(zoneAndInstant, fc.integer({ min: 1, max: 4 }), ([zone, now], capHours) => {
        const nightly: Schedule = { kind: 'cron', cron: '0 0-5 * * *', durationMs: HOUR, timeZone: zone };
        const ctx = { createdMs: now - 2 * DAY, maxDurationMs: capHours * HOUR };
        const st = evaluateSchedule(nightly, ctx, now);
        if (st.phase === 'open' || st.phase === 'capped') {
          expect(st.windowEndMs).toBe((st.windowStartMs as number) + capHours * HOUR);
          expect(st.phase === 'capped').toBe(now >= (st.windowStartMs as number) + capHours * HOUR);
        }
      }),
      { numRuns: 300 },
    );
  });
});
