import { describe, expect, it } from 'vitest';
import { checkMemberReport } from '@kmaint/common/schemas';
import { encodeMemberReport, type Desired } from '@kmaint/common';
import { AppSession, parseAppReport } from '../../src/core/session.ts';

const consume: Desired = {
  maintenance: false,
  mode: 'drain',
  reason: null,
  window: null,
  drainTimeoutMs: null,
};
const window: Desired = {
  maintenance: true,
  mode: 'drain',
  reason: 'broker upgrade',
  window: 'apps/upgrade',
  drainTimeoutMs: 20_000,
};
const T0 = Date.parse('2026-12-01T02:00:00.000Z');

function session(): AppSession {
  return new AppSession({ id: 'pod-1', pod: 'pod-1', appTimeoutMs: 10_000, drainTimeoutMs: 45_000 }, T0);
}

function valid(s: AppSession): void {
  const report = s.memberReport();
  if (report !== null) expect(checkMemberReport(encodeMemberReport(report))).toEqual({ valid: true });
}

describe('AppSession', () => {
  it('is not ready and reports nothing before the switch is read and the app has spoken', () => {
    const s = session();
    expect(s.view()).toBeNull();
    expect(s.ready()).toBe(false);
    s.desire(consume, T0);
    expect(s.view()).toMatchObject({ v: 1, generation: 1, maintenance: false });
    expect(s.ready()).toBe(false);
    expect(s.memberReport()).toBeNull();
  });

  it('walks running → draining → maintenance → resuming → running, ready only at the ends', () => {
    const s = session();
    s.desire(consume, T0);
    s.report({ state: 'running', inFlight: 3, generation: 1 }, T0 + 1);
    expect(s.ready()).toBe(true);
    expect(s.memberReport()).toMatchObject({
      state: 'running',
      inFlight: 3,
      window: null,
      appResponding: true,
    });
    valid(s);

    // Readiness fails the moment the window opens, before the app has even heard of it.
    expect(s.desire(window, T0 + 2)).toEqual([{ kind: 'desired', generation: 2, maintenance: true }]);
    expect(s.ready()).toBe(false);
    expect(s.view()).toMatchObject({
      generation: 2,
      maintenance: true,
      drainTimeoutSeconds: 20,
      window: 'apps/upgrade',
    });
    expect(s.memberReport()?.state).toBe('running');

    s.report({ state: 'draining', inFlight: 2, generation: 2 }, T0 + 3);
    expect(s.memberReport()).toMatchObject({ state: 'draining', inFlight: 2, window: 'apps/upgrade' });
    s.report({ state: 'maintenance', inFlight: 0, generation: 2 }, T0 + 4);
    expect(s.memberReport()).toMatchObject({
      state: 'maintenance',
      inFlight: 0,
      drainedAt: new Date(T0 + 4).toISOString(),
      lastTransition: new Date(T0 + 4).toISOString(),
    });
    valid(s);

    s.desire(consume, T0 + 5);
    expect(s.ready()).toBe(false);
    s.report({ state: 'resuming', inFlight: 0, generation: 3 }, T0 + 6);
    expect(s.ready()).toBe(false);
    // A running report for an older generation does not confirm the resume.
    s.report({ state: 'running', inFlight: 0, generation: 2 }, T0 + 7);
    expect(s.ready()).toBe(false);
    s.report({ state: 'running', inFlight: 0, generation: 3 }, T0 + 8);
    expect(s.ready()).toBe(true);
    expect(s.memberReport()).toMatchObject({ state: 'running', window: null });
  });

  it('counts a generation only for a different desired state', () => {
    const s = session();
    s.desire(consume, T0);
    expect(s.desire({ ...consume }, T0 + 1)).toEqual([]);
    expect(s.generation).toBe(1);
    s.desire({ ...window, reason: 'other' }, T0 + 2);
    s.desire(window, T0 + 3);
    expect(s.generation).toBe(3);
  });

  it('refuses what cannot be true: a future generation, maintenance with work in flight', () => {
    const s = session();
    s.desire(window, T0);
    expect(s.report({ state: 'running', inFlight: 0, generation: 2 }, T0)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/newer than the agent's 1/),
    });
    expect(s.report({ state: 'maintenance', inFlight: 1, generation: 1 }, T0)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/inFlight must be 0/),
    });
    expect(s.memberReport()).toBeNull();
  });

  it('says when the app goes silent, not while a poll is open, and clears it when the app is back', () => {
    const s = session();
    s.desire(consume, T0);
    s.report({ state: 'running', inFlight: 0, generation: 1 }, T0);
    s.pollStarted(T0);
    expect(s.check(T0 + 60_000)).toEqual([]);
    s.pollEnded(T0 + 60_000);
    expect(s.check(T0 + 70_000)).toEqual([]);
    const events = s.check(T0 + 70_001);
    expect(events).toEqual([{ kind: 'app-silent', lastSeen: new Date(T0 + 60_000).toISOString() }]);
    expect(s.ready()).toBe(false);
    expect(s.memberReport()).toMatchObject({
      appResponding: false,
      appLastSeen: new Date(T0 + 60_000).toISOString(),
      lastError: expect.stringMatching(/has not polled or reported since/),
    });
    valid(s);
    expect(s.check(T0 + 80_000)).toEqual([]);

    expect(s.pollStarted(T0 + 90_000)).toEqual([{ kind: 'app-back' }]);
    expect(s.memberReport()).toMatchObject({ appResponding: true, lastError: null });
    expect(s.ready()).toBe(true);
  });

  it('says when a drain is overdue: the drain timeout plus the app timeout after the window opened', () => {
    const s = session();
    s.desire(consume, T0);
    s.report({ state: 'running', inFlight: 0, generation: 1 }, T0);
    s.desire(window, T0 + 1_000);
    s.report({ state: 'draining', inFlight: 5, generation: 2 }, T0 + 2_000);
    s.pollStarted(T0 + 2_000);
    expect(s.check(T0 + 31_000)).toEqual([]);
    expect(s.check(T0 + 31_001)).toEqual([{ kind: 'drain-overdue', sinceMs: 30_001 }]);
    expect(s.memberReport()?.lastError).toMatch(/not drained within 30s/);
    expect(s.check(T0 + 40_000)).toEqual([]);
  });
});

describe('parseAppReport', () => {
  it('reads a report; inFlight defaults to 0', () => {
    expect(parseAppReport({ state: 'draining', generation: 4 })).toEqual({
      ok: true,
      value: { state: 'draining', inFlight: 0, generation: 4 },
    });
  });

  it.each([
    [null, /JSON object/],
    [[], /JSON object/],
    [{ state: 'paused', generation: 1 }, /"state" must be one of running, draining, maintenance, resuming/],
    [{ state: 'running', inFlight: -1, generation: 1 }, /"inFlight" must be a non-negative integer/],
    [{ state: 'running', inFlight: 1.5, generation: 1 }, /"inFlight"/],
    [{ state: 'running' }, /"generation" must be/],
    [{ state: 'running', generation: '1' }, /"generation" must be/],
  ])('refuses %j', (body, error) => {
    expect(parseAppReport(body)).toMatchObject({ ok: false, error: expect.stringMatching(error) });
  });
});
