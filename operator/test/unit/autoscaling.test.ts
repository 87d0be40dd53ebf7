import { describe, expect, it } from 'vitest';
import {
  KEDA_PAUSED,
  PAUSED_BY,
  PAUSED_PREVIOUS,
  pausePatch,
  restorePatch,
} from '../../src/core/autoscaling.ts';

/** What the apiserver makes of a merge patch of the annotations: null removes one. */
const apply = (
  a: Record<string, string>,
  patch: Record<string, string | null> | null,
): Record<string, string> =>
  Object.fromEntries(Object.entries({ ...a, ...patch }).filter((e): e is [string, string] => e[1] !== null));
const BEFORE: Record<string, string>[] = [
  {},
  { [KEDA_PAUSED]: 'false' },
  { [KEDA_PAUSED]: 'true' },
  { other: 'x' },
];

describe('pausing a ScaledObject for a window', () => {
  for (const before of BEFORE) {
    it(`pause then restore gives back ${JSON.stringify(before)}`, () => {
      const paused = apply(before, pausePatch(before, 'ns/w'));
      expect(paused[KEDA_PAUSED]).toBe('true');
      expect(paused[PAUSED_BY]).toBe('ns/w');
      // Pausing again changes nothing (and keeps the earlier state, not "true").
      expect(pausePatch(paused, 'ns/w')).toBeNull();
      expect(apply(paused, restorePatch(paused, 'ns/w'))).toEqual(before);
    });
  }

  it('leaves one paused by another window to that window', () => {
    const byOther = { [KEDA_PAUSED]: 'true', [PAUSED_BY]: 'ns/other', [PAUSED_PREVIOUS]: '' };
    expect(pausePatch(byOther, 'ns/w')).toBeNull();
    expect(restorePatch(byOther, 'ns/w')).toBeNull();
    expect(restorePatch({}, 'ns/w')).toBeNull();
  });
});
