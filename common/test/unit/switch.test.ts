import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeSwitchValue, parseSwitchValue, switchKey, type SwitchValue } from '../../src/index.ts';

describe('parseSwitchValue', () => {
  it.each(['true', 'TRUE', ' True\n', '1', 'on', 'ON', 'yes', 'Yes'])('reads %j as on, mode drain', (raw) => {
    expect(parseSwitchValue(raw)).toEqual({ ok: true, value: { enabled: true, mode: 'drain' } });
  });

  it.each(['false', 'False', '0', 'off', 'OFF', 'no', 'No '])('reads %j as off', (raw) => {
    expect(parseSwitchValue(raw)).toEqual({ ok: true, value: { enabled: false, mode: 'drain' } });
  });

  it('reads a missing key as off', () => {
    expect(parseSwitchValue(undefined)).toMatchObject({ ok: true, value: { enabled: false } });
    expect(parseSwitchValue(null)).toMatchObject({ ok: true, value: { enabled: false } });
  });

  it('reads the operator JSON object', () => {
    const raw =
      '{"enabled":true,"mode":"pause","reason":"broker upgrade","window":"apps/kafka-upgrade","drainTimeoutSeconds":45}';
    expect(parseSwitchValue(raw)).toEqual({
      ok: true,
      value: {
        enabled: true,
        mode: 'pause',
        reason: 'broker upgrade',
        window: 'apps/kafka-upgrade',
        drainTimeoutSeconds: 45,
      },
    });
  });

  it('ignores unknown JSON fields so the operator can extend the value', () => {
    expect(parseSwitchValue('{"enabled":false,"future":1}')).toMatchObject({
      ok: true,
      value: { enabled: false },
    });
  });

  it.each([
    ['', /neither/],
    ['maybe', /neither/],
    ['enabled', /neither/],
    ['{"enabled":', /not valid JSON/],
    ['{"mode":"drain"}', /"enabled" must be a boolean/],
    ['{"enabled":"true"}', /"enabled" must be a boolean/],
    ['{"enabled":true,"mode":"stop"}', /"mode" must be one of drain, pause/],
    ['{"enabled":true,"reason":5}', /"reason" must be a string/],
    ['{"enabled":true,"drainTimeoutSeconds":-1}', /positive number/],
    ['{"enabled":true,"window":[]}', /"window" must be a string/],
  ])('refuses %j with a reason instead of guessing', (raw, reason) => {
    const parsed = parseSwitchValue(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(reason);
  });

  it('reads back every value it encodes', () => {
    const value = fc.record(
      {
        enabled: fc.boolean(),
        mode: fc.constantFrom('drain' as const, 'pause' as const),
        reason: fc.string(),
        window: fc.string(),
        drainTimeoutSeconds: fc.integer({ min: 1, max: 86_400 }),
      },
      { requiredKeys: ['enabled', 'mode'] },
    );
    fc.assert(
      fc.property(value, (v: SwitchValue) => {
        expect(parseSwitchValue(encodeSwitchValue(v))).toEqual({ ok: true, value: v });
      }),
    );
  });
});

describe('switchKey', () => {
  it('maps a name to /maintenance/<name> and keeps a full key', () => {
    expect(switchKey({ name: 'kafka-service' })).toBe('/maintenance/kafka-service');
    expect(switchKey({ key: '/custom/key' })).toBe('/custom/key');
  });

  it('refuses a target with neither', () => {
    expect(() => switchKey({})).toThrow(/name or a key/);
  });
});

describe('the hard end (until)', () => {
  it('round-trips and reaches Desired', async () => {
    const { toDesired } = await import('../../src/index.ts');
    const v: SwitchValue = { enabled: true, mode: 'drain', window: 'ns/w', until: '2026-12-01T03:00:00Z' };
    const parsed = parseSwitchValue(encodeSwitchValue(v));
    expect(parsed).toEqual({ ok: true, value: v });
    if (parsed.ok) expect(toDesired(parsed.value).until).toBe('2026-12-01T03:00:00Z');
  });

  it('is optional, and rejected when it is not a time', () => {
    expect(encodeSwitchValue({ enabled: true, mode: 'drain' })).not.toContain('until');
    expect(parseSwitchValue('{"enabled":true,"until":"soon"}')).toMatchObject({
      ok: false,
      error: expect.stringContaining('"until"'),
    });
  });
});
