import fc from 'fast-check';
import { encodeSwitchValue, parseSwitchValue, SWITCH_OFF } from '@kmaint/common';
import { describe, expect, it } from 'vitest';
import { decideKeys, desiredSwitches, needsWrite, type WindowActivity } from '../../src/core/desired.ts';

const win = (over: Partial<WindowActivity>): WindowActivity => ({
  ref: 'ns/a',
  key: '/maintenance/k',
  active: true,
  mode: 'drain',
  reason: null,
  drainTimeoutMs: 45_000,
  windowStartMs: 0,
  untilMs: null,
  finalized: true,
  ...over,
});

describe('desiredSwitches', () => {
  it('carries the hard end: the latest of the active windows, none when one of them has none', () => {
    const t = Date.parse('2026-12-01T03:00:00Z');
    const a = win({ ref: 'ns/a', untilMs: t });
    const b = win({ ref: 'ns/b', untilMs: t + 60_000 });
    expect(desiredSwitches([a]).get('/maintenance/k')?.until).toBe('2026-12-01T03:00:00.000Z');
    expect(desiredSwitches([a, b]).get('/maintenance/k')?.until).toBe('2026-12-01T03:01:00.000Z');
    expect(desiredSwitches([a, win({ ref: 'ns/c' })]).get('/maintenance/k')?.until).toBeUndefined();
    expect(desiredSwitches([a, win({ ref: 'ns/d', active: false })]).get('/maintenance/k')?.until).toBe(
      '2026-12-01T03:00:00.000Z',
    );
  });

  it('writes the documented JSON for an active window', () => {
    const out = desiredSwitches([win({ ref: 'apps/kafka-upgrade', reason: 'broker upgrade' })]);
    expect(encodeSwitchValue(out.get('/maintenance/k') ?? SWITCH_OFF)).toBe(
      '{"v":1,"enabled":true,"mode":"drain","reason":"broker upgrade","window":"apps/kafka-upgrade","drainTimeoutSeconds":45}',
    );
  });

  it('keeps a key on while any window for it is active, off when none is', () => {
    const out = desiredSwitches([
      win({ ref: 'ns/a', active: false }),
      win({ ref: 'ns/b', active: true }),
      win({ ref: 'ns/c', key: '/other', active: false }),
    ]);
    expect(out.get('/maintenance/k')?.window).toBe('ns/b');
    expect(out.get('/other')).toEqual(SWITCH_OFF);
  });

  it('drain outranks pause, then the earliest opened window speaks', () => {
    const out = desiredSwitches([
      win({ ref: 'ns/p', mode: 'pause', windowStartMs: 0 }),
      win({ ref: 'ns/late', windowStartMs: 20 }),
      win({ ref: 'ns/early', windowStartMs: 10 }),
    ]);
    expect(out.get('/maintenance/k')).toMatchObject({ mode: 'drain', window: 'ns/early' });
  });

  const activityArb = fc.record({
    ref: fc.constantFrom('a/x', 'a/y', 'b/x', 'b/z'),
    key: fc.constantFrom('/maintenance/one', '/maintenance/two', '/k'),
    active: fc.boolean(),
    mode: fc.constantFrom('drain' as const, 'pause' as const),
    reason: fc.option(fc.string(), { nil: null }),
    drainTimeoutMs: fc.integer({ min: 1, max: 3_600_000 }),
    windowStartMs: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
    untilMs: fc.option(fc.integer({ min: 1_000, max: 2_000_000_000_000 }), { nil: null }),
    finalized: fc.boolean(),
  });
  const windowsArb = fc.uniqueArray(activityArb, { selector: (w) => w.ref, maxLength: 4 });

  it('property: a key is on exactly when an active window targets it, and names one of them', () => {
    fc.assert(
      fc.property(windowsArb, (ws) => {
        const out = desiredSwitches(ws);
        expect(new Set(out.keys())).toEqual(new Set(ws.map((w) => w.key)));
        for (const [key, value] of out) {
          const active = ws.filter((w) => w.key === key && w.active);
          expect(value.enabled).toBe(active.length > 0);
          if (value.enabled) expect(active.map((w) => w.ref)).toContain(value.window);
        }
      }),
    );
  });

  it('property: the answer does not depend on the order windows arrive in', () => {
    fc.assert(
      fc.property(
        windowsArb.chain((ws) =>
          fc.tuple(fc.constant(ws), fc.shuffledSubarray(ws, { minLength: ws.length })),
        ),
        ([ws, shuffled]) => {
          const a = desiredSwitches(ws);
          const b = desiredSwitches(shuffled);
          expect([...b].sort()).toEqual([...a].sort());
        },
      ),
    );
  });

  it('property: what is written parses back to the desired value', () => {
    fc.assert(
      fc.property(windowsArb, (ws) => {
        for (const value of desiredSwitches(ws).values()) {
          expect(parseSwitchValue(encodeSwitchValue(value))).toEqual({ ok: true, value });
        }
      }),
    );
  });
});

describe('needsWrite', () => {
  const on = { enabled: true, mode: 'drain' as const, window: 'ns/a', drainTimeoutSeconds: 45 };
  it('skips an off that is already off, in any spelling, or a missing key', () => {
    for (const raw of [
      null,
      'false',
      'OFF',
      '0',
      encodeSwitchValue(SWITCH_OFF),
      '{"enabled":false,"mode":"pause"}',
    ]) {
      expect(needsWrite(raw, SWITCH_OFF)).toBe(false);
    }
  });
  it('writes off over an on or an unreadable value', () => {
    expect(needsWrite('true', SWITCH_OFF)).toBe(true);
    expect(needsWrite('garbage', SWITCH_OFF)).toBe(true);
  });
  it('writes on unless the exact value is there', () => {
    expect(needsWrite(encodeSwitchValue(on), on)).toBe(false);
    expect(needsWrite('true', on)).toBe(true);
    expect(needsWrite(encodeSwitchValue({ ...on, reason: 'x' }), on)).toBe(true);
  });
});

describe('decideKeys', () => {
  const key = '/maintenance/k';
  it('turns a key that only new windows want on provisionally, and for good once one is finalized', () => {
    const fresh = win({ ref: 'ns/new', finalized: false });
    expect(decideKeys([fresh]).get(key)).toEqual({
      value: expect.objectContaining({ enabled: true, window: 'ns/new' }),
      provisional: true,
    });
    expect(decideKeys([{ ...fresh, finalized: true }]).get(key)?.provisional).toBe(false);
  });

  it('writes a key held by a finalized window from the finalized windows alone', () => {
    // The new one would speak for the key (drain beats pause) and has no hard end; the finalized one ends.
    const held = win({ ref: 'ns/held', mode: 'pause', untilMs: Date.parse('2026-12-01T03:00:00Z') });
    const fresh = win({ ref: 'ns/new', mode: 'drain', finalized: false });
    expect(decideKeys([held, fresh]).get(key)).toEqual({
      value: expect.objectContaining({ window: 'ns/held', mode: 'pause', until: '2026-12-01T03:00:00.000Z' }),
      provisional: false,
    });
  });

  it('an off is never provisional', () => {
    expect(decideKeys([win({ active: false, finalized: false })]).get(key)).toEqual({
      value: SWITCH_OFF,
      provisional: false,
    });
  });
});

describe('decideKeys, property', () => {
  const windowsArb = fc.uniqueArray(
    fc.record({
      ref: fc.constantFrom('a/x', 'a/y', 'b/x', 'b/z'),
      key: fc.constantFrom('/maintenance/one', '/maintenance/two'),
      active: fc.boolean(),
      mode: fc.constantFrom('drain' as const, 'pause' as const),
      reason: fc.constant(null),
      drainTimeoutMs: fc.constant(45_000),
      windowStartMs: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
      untilMs: fc.option(fc.integer({ min: 1_000, max: 2_000 }), { nil: null }),
      finalized: fc.boolean(),
    }),
    { selector: (w) => w.ref, maxLength: 4 },
  );
  it('is on when any active window wants it, for good exactly when a finalized one does, and then speaks for one', () => {
    fc.assert(
      fc.property(windowsArb, (ws) => {
        for (const [key, { value, provisional }] of decideKeys(ws)) {
          const active = ws.filter((w) => w.key === key && w.active);
          expect(value.enabled).toBe(active.length > 0);
          expect(provisional).toBe(active.length > 0 && !active.some((w) => w.finalized));
          if (value.enabled && !provisional) {
            expect(active.filter((w) => w.finalized).map((w) => w.ref)).toContain(value.window);
          }
        }
      }),
    );
  });
});
