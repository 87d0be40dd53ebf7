import { describe, expect, it } from 'vitest';
import { backoffDelay } from '@kmaint/common';
import { RingBuffer } from '../../src/core/stats.ts';
import { settlesWithin } from '../../src/core/timeout.ts';

describe('backoffDelay', () => {
  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, 100))).toEqual([100, 200, 400, 800]);
    expect(backoffDelay(30, 100, 5_000)).toBe(5_000);
  });
});

describe('RingBuffer', () => {
  it('keeps the last items, oldest first', () => {
    const r = new RingBuffer<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    expect(r.toArray()).toEqual([3, 4, 5]);
  });
});

describe('settlesWithin', () => {
  it('is true for work that settles (even by rejecting) in time, false for work that does not', async () => {
    expect(await settlesWithin(Promise.resolve(1), 1_000)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('x')), 1_000)).toBe(true);
    expect(await settlesWithin(new Promise(() => undefined), 5)).toBe(false);
  });
});
