import { describe, expect, it } from 'vitest';
import { encodeMemberReport, memberKey, parseMemberReport, type MemberReport } from '../../src/index.ts';

const report: MemberReport = {
  id: 'kafka-service-7d9f-abc',
  pod: 'kafka-service-7d9f-abc',
  state: 'maintenance',
  inFlight: 0,
  drainedAt: '2026-12-01T02:00:03.120Z',
  lastTransition: '2026-12-01T02:00:03.120Z',
  lastError: null,
  window: 'payments/broker-upgrade',
};

describe('member reports', () => {
  it('live under <key>/members/<id>', () => {
    expect(memberKey('/maintenance/kafka-service', 'pod-1')).toBe('/maintenance/kafka-service/members/pod-1');
  });

  it('read back what they encode', () => {
    expect(parseMemberReport(encodeMemberReport(report))).toEqual({ ok: true, value: report });
  });

  it('default missing optional fields to null', () => {
    const raw = JSON.stringify({ id: 'a', state: 'running', inFlight: 2, lastTransition: 'now' });
    expect(parseMemberReport(raw)).toMatchObject({
      ok: true,
      value: { pod: null, drainedAt: null, lastError: null, window: null },
    });
  });

  it.each([
    ['not json', /not valid JSON/],
    ['[]', /JSON object/],
    [JSON.stringify({ ...report, id: '' }), /"id"/],
    [JSON.stringify({ ...report, state: 'drained' }), /"state" must be one of/],
    [JSON.stringify({ ...report, inFlight: -1 }), /"inFlight"/],
    [JSON.stringify({ ...report, lastError: 3 }), /"lastError"/],
  ])('refuse %j', (raw, reason) => {
    const parsed = parseMemberReport(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(reason);
  });
});

describe('resumedAtHardEnd', () => {
  it('is written only when set, and read back', () => {
    expect(encodeMemberReport(report)).not.toContain('resumedAtHardEnd');
    const resumed = { ...report, state: 'running' as const, resumedAtHardEnd: '2026-12-01T03:00:00Z' };
    expect(parseMemberReport(encodeMemberReport(resumed))).toEqual({ ok: true, value: resumed });
    expect(parseMemberReport(encodeMemberReport(report))).toEqual({ ok: true, value: report });
  });

  it('must be a string when present', () => {
    const raw = JSON.stringify({ ...report, resumedAtHardEnd: 5 });
    expect(parseMemberReport(raw)).toMatchObject({
      ok: false,
      error: expect.stringContaining('resumedAtHardEnd'),
    });
  });
});
