import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LaneScheduler } from '../../src/core/scheduler.ts';

describe('LaneScheduler', () => {
  it('cancels queued items but lets running ones finish', async () => {
    const gate = Promise.withResolvers<undefined>();
    const ran: string[] = [];
    const s = new LaneScheduler<string>(1, async (item) => {
      ran.push(item);
      if (item === 'first') await gate.promise;
      return undefined;
    });
    s.submit('a', 'first');
    s.submit('b', 'second');
    s.submit('a', 'third');
    expect(s.running).toBe(1);
    expect(s.cancel()).toEqual(['second', 'third']);
    gate.resolve(undefined);
    await gate.promise;
    await Promise.resolve();
    expect(s.running).toBe(0);
    expect(ran).toEqual(['first']);
  });

  it('takes new items after a cancel', async () => {
    const ran: number[] = [];
    const s = new LaneScheduler<number>(1, async (item) => {
      ran.push(item);
      return undefined;
    });
    s.submit('a', 1);
    s.submit('a', 2);
    s.cancel();
    s.submit('a', 3);
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual([1, 3]);
  });

  it("a remainder handed back runs first at its lane's next turn, after the lanes that waited", async () => {
    interface Run {
      lane: string;
      from: number;
      to: number;
    }
    const ran: string[] = [];
    const s: LaneScheduler<Run> = new LaneScheduler<Run>(1, async (run) => {
      for (let i = run.from; i < run.to; i++) {
        if (i > run.from && s.contended) return { ...run, from: i };
        ran.push(`${run.lane}${i}`);
        await Promise.resolve();
      }
      return undefined;
    });
    s.submit('a', { lane: 'a', from: 0, to: 3 });
    s.submit('b', { lane: 'b', from: 0, to: 2 });
    s.submit('a', { lane: 'a', from: 3, to: 4 });
    await new Promise((r) => setImmediate(r));
    // Each lane gives way after one message while the other waits; a's rest keeps its place before a3.
    expect(ran).toEqual(['a0', 'b0', 'a1', 'b1', 'a2', 'a3']);
    expect(s.contended).toBe(false);
  });

  it('is not contended while every lane with work has a slot', async () => {
    const gate = Promise.withResolvers<undefined>();
    const s = new LaneScheduler<string>(2, async () => {
      await gate.promise;
      return undefined;
    });
    s.submit('a', 'x');
    s.submit('b', 'y');
    expect(s.contended).toBe(false);
    s.submit('c', 'z');
    expect(s.contended).toBe(true);
    gate.resolve(undefined);
    await new Promise((r) => setImmediate(r));
    expect(s.running).toBe(0);
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
          let running = 0;
          let peak = 0;
          const finished = Promise.withResolvers<undefined>();
          let left = jobs.length;
          const order = new Map<number, number[]>();
          const s = new LaneScheduler<number>(capacity, async (seq) => {
            const [lane, ticks] = jobs[seq] as [number, number];
            running += 1;
            peak = Math.max(peak, running);
            order.set(lane, [...(order.get(lane) ?? []), seq]);
            for (let i = 0; i < ticks; i++) await Promise.resolve();
            running -= 1;
            if (--left === 0) finished.resolve(undefined);
            return undefined;
          });
          jobs.forEach(([lane], seq) => s.submit(`lane-${lane}`, seq));
          await finished.promise;
          expect(peak).toBeLessThanOrEqual(capacity);
          for (const seqs of order.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
          expect([...order.values()].flat()).toHaveLength(jobs.length);
        },
      ),
    );
  });
});
