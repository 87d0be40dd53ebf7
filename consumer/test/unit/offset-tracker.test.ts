import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OffsetTracker } from '../../src/core/offset-tracker.ts';

describe('OffsetTracker', () => {
  it('commits only past the contiguous finished run when messages finish out of order', () => {
    const t = new OffsetTracker(['10', '11', '12', '13'], '14');
    t.finish(2);
    t.finish(3);
    expect(t.pendingCommit()).toBeNull();
    t.finish(0);
    expect(t.pendingCommit()).toBe(11n);
    t.fail(1);
    expect(t.pendingCommit()).toBe(11n);
  });

  it('jumps over gaps and the batch end once everything finished', () => {
    const t = new OffsetTracker(['3', '7', '8'], '12');
    t.finish(0);
    expect(t.pendingCommit()).toBe(4n);
    t.finish(2);
    t.finish(1);
    expect(t.pendingCommit()).toBe(12n);
    t.markCommitted(12n);
    expect(t.pendingCommit()).toBeNull();
  });

  it('refuses offsets out of order, an end inside the batch and unknown messages', () => {
    expect(() => new OffsetTracker(['5', '5'], '6')).toThrow(RangeError);
    expect(() => new OffsetTracker(['10', '9'], '11')).toThrow(RangeError);
    expect(() => new OffsetTracker(['9', '10'], '10')).toThrow(RangeError);
    const t = new OffsetTracker(['9', '10'], '11');
    expect(() => t.finish(2)).toThrow(RangeError);
    expect(() => t.fail(-1)).toThrow(RangeError);
  });

  it('property: the commit offset never passes an unfinished or failed message', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('finish', 'fail')), { maxLength: 120 }),
        fc.boolean(),
        (raw, actions, withEnd) => {
          const offsets = [...raw].sort((a, b) => a - b).map(BigInt);
          const last = offsets.at(-1) as bigint;
          const t = new OffsetTracker(offsets.map(String), String(withEnd ? last + 3n : last + 1n));
          const done = new Set<bigint>();
          for (const [i, what] of actions) {
            const o = offsets[i % offsets.length] as bigint;
            if (what === 'finish') {
              t.finish(i % offsets.length);
              done.add(o);
            } else {
              t.fail(i % offsets.length);
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
