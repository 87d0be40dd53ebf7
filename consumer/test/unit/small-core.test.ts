import { describe, expect, it } from 'vitest';
import { backoffDelay } from '@kmaint/common';
import { Buckets, MessageTotals, RingBuffer } from '../../src/core/stats.ts';
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

describe('Buckets', () => {
  it('counts each value into the first bound at or above it, and above all bounds only in the count', () => {
    const b = new Buckets([0.01, 0.1, 1]);
    for (const v of [0.001, 0.01, 0.05, 0.5, 7]) b.observe(v);
    expect(b.cumulative()).toEqual([2, 3, 4]);
    expect(b.count).toBe(5);
    expect(b.sum).toBeCloseTo(7.561);
  });
});

describe('MessageTotals', () => {
  it('keeps each topic apart and adds them up', () => {
    const t = new MessageTotals();
    t.topic('a').received += 3;
    t.topic('a').processed += 2;
    t.topic('b').received += 1;
    t.topic('b').failed += 1;
    expect([...t.topics().keys()]).toEqual(['a', 'b']);
    expect(t.sum()).toEqual({
      received: 4,
      processed: 2,
      failed: 1,
      retried: 0,
      deadLettered: 0,
      aborted: 0,
    });
  });
});
