import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/index.ts';

describe('parseDuration', () => {
  it.each([
    ['45s', 45_000],
    ['250ms', 250],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['4h', 14_400_000],
    ['1m0.5s', 60_500],
    ['100', 100],
    ['0', 0],
    ['0s', 0],
  ])('reads %j as %d ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, value: ms });
  });

  it.each(['', 's', '-5s', '5 s', '5sec', '1d', 'h1'])('refuses %j', (text) => {
    expect(parseDuration(text).ok).toBe(false);
  });

  it('reads back what formatDuration writes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10 * 86_400_000 }), (ms) => {
        expect(parseDuration(formatDuration(ms))).toEqual({ ok: true, value: ms });
      }),
    );
  });
});
