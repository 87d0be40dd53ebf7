import fc from 'fast-check';
import { encodeSwitchValue, MAINTENANCE_MODES, SWITCH_OFF } from '@kmaint/common';
import { checkSwitchValue } from '@kmaint/common/schemas';
import { describe, expect, it } from 'vitest';
import { decideKeys, type WindowActivity } from '../../src/core/desired.ts';

// What the operator writes into etcd is what docs/protocol.md and the published schema say it writes.
const windows = fc.array(
  fc.record({
    ref: fc.constantFrom('ns/a', 'ns/b', 'other/c'),
    key: fc.constantFrom('/maintenance/k', '/maintenance/other'),
    active: fc.boolean(),
    mode: fc.constantFrom(...MAINTENANCE_MODES),
    reason: fc.option(fc.string()),
    drainTimeoutMs: fc.option(fc.integer({ min: 1_000, max: 3_600_000 })),
    windowStartMs: fc.nat(),
    // Up to year 9999, so the hard end is an ISO instant the schema's pattern reads.
    untilMs: fc.option(fc.integer({ min: 0, max: 253_402_300_799_000 })),
    finalized: fc.boolean(),
  }) satisfies fc.Arbitrary<WindowActivity>,
  { maxLength: 6 },
);

describe('the switch values the operator writes', () => {
  it('validate against the switch value schema', () => {
    fc.assert(
      fc.property(windows, (ws) => {
        for (const { value } of decideKeys(ws).values()) {
          expect(checkSwitchValue(encodeSwitchValue(value))).toEqual({ valid: true });
        }
      }),
    );
    expect(checkSwitchValue(encodeSwitchValue(SWITCH_OFF))).toEqual({ valid: true });
  });
});
