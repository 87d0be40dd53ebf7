import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LaneScheduler } from '../../src/core/scheduler.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('LaneScheduler', () => {
  it('cancels queued jobs but lets running ones finish', async () => {
    const s = new LaneScheduler(1);
    const gate = deferred();
    const first = s.submit('a', () => gate.promise.then(() => 1));
    const second = s.submit('b', async () => 2);
    expect(s.running).toBe(1);
    expect(s.cancel()).toBe(1);
    expect(await second).toEqual({ status: 'cancelled' });
    gate.resolve();
    expect(await first).toEqual({ status: 'ran', value: 1 });
    expect(s.running).toBe(0);
  });

  it('passes a job failure to its submitter and keeps going', async () => {
    const s = new LaneScheduler(2);
    await expect(s.submit('a', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await s.submit('a', async () => 'next')).toEqual({ status: 'ran', value: 'next' });
  });

  it('property: never more than capacity at once, and each lane runs in submission order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3 })), {
          minLength: 1,
          maxLength: 60,
        }),
        async (capacity, jobs) => {
          const s = new LaneScheduler(capacity);
          let running = 0;
          let peak = 0;
          const order = new Map<number, number[]>();
          const all = jobs.map(([lane, ticks], seq) =>
            s.submit(`lane-${lane}`, async () => {
              running += 1;
              peak = Math.max(peak, running);
              order.set(lane, [...(order.get(lane) ?? []), seq]);
              for (let i = 0; i < ticks; i++) await Promise.resolve();
              running -= 1;
            }),
          );
          await Promise.all(all);
          expect(peak).toBeLessThanOrEqual(capacity);
          for (const seqs of order.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
          expect([...order.values()].flat()).toHaveLength(jobs.length);
        },
      ),
    );
  });
});
