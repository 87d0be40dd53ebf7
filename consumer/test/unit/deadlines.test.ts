import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../src/kafka/deadlines.ts';

const aborted = (signal: AbortSignal): Promise<unknown> =>
  new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));

describe('Deadlines', () => {
  it('aborts each attempt that outlives the processing time, in start order, with one timer', async () => {
    const d = new Deadlines(20);
    const first = d.start();
    const second = d.start();
    const finished = d.start();
    d.end(finished);
    const reasons = await Promise.all([aborted(first.signal), aborted(second.signal)]);
    expect(reasons.map((r) => (r as { code?: string }).code)).toEqual([
      'MAX_PROCESSING_TIME',
      'MAX_PROCESSING_TIME',
    ]);
    expect(finished.signal.aborted).toBe(false);
  });

  it('keeps aborting attempts that start after the timer was armed', async () => {
    const d = new Deadlines(15);
    d.end(d.start());
    const later = d.start();
    expect(((await aborted(later.signal)) as { code?: string }).code).toBe('MAX_PROCESSING_TIME');
  });

  it('abortAll reaches running attempts, also through a signal read only afterwards', () => {
    const d = new Deadlines(60_000);
    const watched = d.start();
    const signal = watched.signal;
    const unread = d.start();
    const reason = new Error('drain timeout');
    d.abortAll(reason);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(reason);
    expect(unread.signal.aborted).toBe(true);
    expect(unread.signal.reason).toBe(reason);
    d.end(watched);
    d.end(unread);
  });

  it('an attempt that ends while an older one still runs is no longer aborted, whatever the order', () => {
    const d = new Deadlines(60_000);
    const attempts = Array.from({ length: 3_000 }, () => d.start());
    const slow = attempts[0];
    // All but the oldest end: they stay queued behind it until it ends too.
    for (const a of attempts.slice(1)) d.end(a);
    const late = d.start();
    const reason = new Error('drain timeout');
    d.abortAll(reason);
    expect(slow?.signal.reason).toBe(reason);
    expect(late.signal.reason).toBe(reason);
    expect(attempts.slice(1).some((a) => a.aborted)).toBe(false);
    if (slow !== undefined) d.end(slow);
    d.end(late);
  });
});
