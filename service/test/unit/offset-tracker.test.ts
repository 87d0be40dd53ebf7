import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../src/core/offset-tracker.ts';

describe('OffsetTracker', () => {
  it('commits only past the contiguous finished run when messages finish out of order', () => {
    const t = new OffsetTracker();
    for (const o of [10n, 11n, 12n, 13n]) t.register(o);
    t.finish(12n);
    t.finish(13n);
    expect(t.pendingCommit()).toBeNull();
    t.finish(10n);
    expect(t.pendingCommit()).toBe(11n);
    t.fail(11n);
    expect(t.pendingCommit()).toBe(11n);
  });

  it('jumps over gaps and the batch end once everything finished', () => {
    const t = new OffsetTracker();
    for (const o of [3n, 7n, 8n]) t.register(o);
    t.setEnd(12n);
    t.finish(3n);
    expect(t.pendingCommit()).toBe(4n);
    t.finish(8n);
    t.finish(7n);
    expect(t.pendingCommit()).toBe(12n);
    t.markCommitted(12n);
    expect(t.pendingCommit()).toBeNull();
  });

  it('refuses offsets out of order and unknown offsets', () => {
    const t = new OffsetTracker();
    t.register(5n);
    expect(() => t.register(5n)).toThrow(RangeError);
    expect(() => t.finish(6n)).toThrow(RangeError);
  });

  it('property: the commit offset never passes an unfinished or failed message', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('finish', 'fail')), { maxLength: 120 }),
        fc.boolean(),
        (raw, actions, withEnd) => {
          const offsets = [...raw].sort((a, b) => a - b).map(BigInt);
          const t = new OffsetTracker();
          for (const o of offsets) t.register(o);
          const last = offsets.at(-1) as bigint;
          if (withEnd) t.setEnd(last + 3n);
          const done = new Set<bigint>();
          for (const [i, what] of actions) {
            const o = offsets[i % offsets.length] as bigint;
            if (what === 'finish') {
              t.finish(o);
              done.add(o);
            } else if (!done.has(o)) {
              t.fail(o);
            }
          }
          const firstOpen = offsets.find((o) => !done.has(o));
          const got = t.contiguous();
          if (firstOpen === undefined) {
            expect(got).toBe(withEnd ? last + 3n : last + 1n);
          } else {
            const idx = offsets.indexOf(firstOpen);
            expect(got).toBe(idx === 0 ? null : (offsets[idx - 1] as bigint) + 1n);
            if (got !== null) expect(got <= firstOpen).toBe(true);
          }
        },
      ),
    );
  });
});
