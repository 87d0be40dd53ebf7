import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkMemberReport,
  checkSwitchValue,
  memberReportSchema,
  switchValueSchema,
} from '../../schemas/validate.ts';
import {
  encodeMemberReport,
  encodeSwitchValue,
  MAINTENANCE_MODES,
  MEMBER_STATES,
  parseMemberReport,
  parseSwitchValue,
  SWITCH_OFF,
  type MemberReport,
  type SwitchValue,
} from '../../src/index.ts';

const switchValues = fc.record(
  {
    enabled: fc.boolean(),
    mode: fc.constantFrom(...MAINTENANCE_MODES),
    reason: fc.string(),
    window: fc.string(),
    drainTimeoutSeconds: fc.integer({ min: 1, max: 86_400 }),
  },
  { requiredKeys: ['enabled', 'mode'] },
) satisfies fc.Arbitrary<SwitchValue>;

const reports = fc.record({
  id: fc.string({ minLength: 1 }),
  pod: fc.option(fc.string()),
  state: fc.constantFrom(...MEMBER_STATES),
  inFlight: fc.nat(),
  drainedAt: fc.option(fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
  lastTransition: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  lastError: fc.option(fc.string()),
  window: fc.option(fc.string()),
}) satisfies fc.Arbitrary<MemberReport>;

describe('the switch value schema', () => {
  it('accepts everything encodeSwitchValue writes, which parses back', () => {
    fc.assert(
      fc.property(switchValues, (value) => {
        const raw = encodeSwitchValue(value);
        expect(checkSwitchValue(raw)).toEqual({ valid: true });
        expect(JSON.parse(raw)).toMatchObject({ v: 1 });
        expect(parseSwitchValue(raw)).toMatchObject({ ok: true, value: { enabled: value.enabled } });
      }),
    );
    expect(checkSwitchValue(encodeSwitchValue(SWITCH_OFF))).toEqual({ valid: true });
  });

  it.each(['true', 'FALSE', ' on\n', 'Off', '1', '0', 'yes', 'No'])('accepts the plain word %j', (raw) => {
    expect(checkSwitchValue(raw)).toEqual({ valid: true });
    expect(parseSwitchValue(raw).ok).toBe(true);
  });

  it('accepts a value without v (version 1) and one with the window hard end', () => {
    expect(checkSwitchValue('{"enabled":true}')).toEqual({ valid: true });
    expect(checkSwitchValue('{"v":1,"enabled":true,"until":"2026-12-01T03:00:00Z"}')).toEqual({
      valid: true,
    });
  });

  it.each([
    'maybe',
    '{"mode":"drain"}',
    '{"enabled":"true"}',
    '{"enabled":true,"mode":"stop"}',
    '{"enabled":true,"drainTimeoutSeconds":0}',
    '{"v":0,"enabled":true}',
    '{"v":1.5,"enabled":true}',
    '{"enabled":true,"until":"tomorrow"}',
  ])('rejects %j, as parseSwitchValue does (until aside)', (raw) => {
    expect(checkSwitchValue(raw).valid).toBe(false);
    if (!raw.includes('until')) expect(parseSwitchValue(raw).ok).toBe(false);
  });

  it('lists the modes MAINTENANCE_MODES lists', () => {
    expect(switchValueSchema.$defs.object.properties.mode.enum).toEqual([...MAINTENANCE_MODES]);
  });
});

describe('the member report schema', () => {
  it('accepts everything encodeMemberReport writes, which parses back', () => {
    fc.assert(
      fc.property(reports, (report) => {
        const raw = encodeMemberReport(report);
        expect(checkMemberReport(raw)).toEqual({ valid: true });
        expect(JSON.parse(raw)).toMatchObject({ v: 1 });
        expect(parseMemberReport(raw)).toEqual({ ok: true, value: report });
      }),
    );
  });

  it('accepts the agent fields', () => {
    const raw = encodeMemberReport({
      id: 'a',
      pod: 'a',
      state: 'running',
      inFlight: 0,
      drainedAt: null,
      lastTransition: new Date(0).toISOString(),
      lastError: 'the app has not polled the agent since 1970-01-01T00:00:00.000Z',
      window: null,
      appResponding: false,
      appLastSeen: new Date(0).toISOString(),
    });
    expect(checkMemberReport(raw)).toEqual({ valid: true });
    expect(parseMemberReport(raw)).toMatchObject({ ok: true, value: { appResponding: false } });
  });

  it.each([
    '{"state":"running","inFlight":0,"lastTransition":"x"}',
    '{"id":"a","state":"idle","inFlight":0,"lastTransition":"x"}',
    '{"id":"a","state":"running","inFlight":-1,"lastTransition":"x"}',
    '{"v":0,"id":"a","state":"running","inFlight":0,"lastTransition":"x"}',
    '{"id":"a","state":"running","inFlight":0,"lastTransition":"x","appResponding":"no"}',
  ])('rejects %j, as parseMemberReport does', (raw) => {
    expect(checkMemberReport(raw).valid).toBe(false);
    expect(parseMemberReport(raw).ok).toBe(false);
  });

  it('lists the states MEMBER_STATES lists', () => {
    expect(memberReportSchema.properties.state.enum).toEqual([...MEMBER_STATES]);
  });
});
