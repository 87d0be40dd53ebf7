import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../src/kube/queue.ts';

describe('WorkQueue', () => {
  it('queues an item once however often it is added while waiting', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('a');
    q.add('b');
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('runs an item added during processing again afterwards, never twice at once', async () => {
    const q = new WorkQueue();
    q.add('a');
    const item = await q.get();
    q.add('a');
    expect(q.depth).toBe(0);
    q.done(item as string);
    expect(q.depth).toBe(1);
  });

  it('doubles the retry delay per failure and starts over after forget', () => {
    const delays: number[] = [];
    const q = new WorkQueue({
      baseDelayMs: 100,
      maxDelayMs: 1_000,
      setTimer: (_fn, ms) => {
        delays.push(ms);
        return { cancel: () => undefined };
      },
    });
    const seen = [1, 2, 3, 4, 5].map(() => q.addRateLimited('x'));
    expect(seen).toEqual([100, 200, 400, 800, 1_000]);
    q.forget('x');
    expect(q.addRateLimited('y')).toBe(100);
  });

  it('keeps the earliest of two delayed adds', () => {
    const timers: { ms: number; cancelled: boolean }[] = [];
    const q = new WorkQueue({
      setTimer: (_fn, ms) => {
        const t = { ms, cancelled: false };
        timers.push(t);
        return { cancel: () => (t.cancelled = true) };
      },
    });
    q.addAfter('x', 5_000);
    q.addAfter('x', 10_000);
    q.addAfter('x', 1_000);
    expect(timers.map((t) => [t.ms, t.cancelled])).toEqual([
      [5_000, true],
      [1_000, false],
    ]);
  });

  it('caps a delay beyond what setTimeout can hold instead of firing at once', () => {
    const delays: number[] = [];
    const q = new WorkQueue({
      setTimer: (_fn, ms) => {
        delays.push(ms);
        return { cancel: () => undefined };
      },
    });
    q.addAfter('far', 90 * 24 * 3_600_000);
    expect(delays).toEqual([2 ** 31 - 1]);
  });

  it('hands out null once shut down', async () => {
    const q = new WorkQueue();
    const pending = q.get();
    q.shutdown();
    expect(await pending).toBeNull();
  });
});

describe('WorkQueue lanes', () => {
  it('hands out the items of a lower lane before the others, each lane first in, first out', async () => {
    const q = new WorkQueue<string>({
      lanes: 3,
      lane: (item) => (item.startsWith('k:') ? 0 : item.startsWith('n:') ? 1 : 2),
    });
    for (const item of ['w:1', 'n:1', 'w:2', 'k:a', 'w:3', 'n:2', 'k:b']) q.add(item);
    expect(q.depth).toBe(7);
    const order: string[] = [];
    for (let i = 0; i < 7; i++) {
      const item = (await q.get()) as string;
      order.push(item);
      q.done(item);
    }
    expect(order).toEqual(['k:a', 'k:b', 'n:1', 'n:2', 'w:1', 'w:2', 'w:3']);
  });

  it('keeps a limited lane to its share of the workers, so a later key finds one free', async () => {
    const q = new WorkQueue<string>({
      lanes: 2,
      lane: (item) => (item.startsWith('k:') ? 0 : 1),
      laneLimits: [undefined, 2],
    });
    for (const item of ['w:1', 'w:2', 'w:3']) q.add(item);
    const first = [(await q.get()) as string, (await q.get()) as string];
    expect(first).toEqual(['w:1', 'w:2']);
    // A third worker waits: w:3 is queued, but its lane is at its limit.
    const third = q.get();
    q.add('k:a');
    expect(await third).toBe('k:a');
    const fourth = q.get();
    q.done('w:1');
    expect(await fourth).toBe('w:3');
    q.done('w:2');
    q.done('w:3');
    q.done('k:a');
    expect(q.depth).toBe(0);
    q.shutdown();
    expect(await q.get()).toBeNull();
  });

  it('lets every worker end after a shutdown, also those that waited on a lane at its limit', async () => {
    const q = new WorkQueue<string>({ lanes: 1, laneLimits: [1] });
    q.add('w:1');
    q.add('w:2');
    expect(await q.get()).toBe('w:1');
    const waiting = [q.get(), q.get()];
    q.shutdown();
    q.done('w:1');
    expect((await Promise.all(waiting)).sort()).toEqual(['w:2', null].sort());
    q.done('w:2');
    expect(await q.get()).toBeNull();
  });
});
