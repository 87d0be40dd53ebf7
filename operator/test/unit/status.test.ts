import fc from 'fast-check';
import { ok, type MemberReport, type MemberState } from '@kmaint/common';
import { describe, expect, it } from 'vitest';
import { CONDITION, REASON, type Condition } from '../../src/core/conditions.ts';
import type { ScheduleState } from '../../src/core/schedule.ts';
import { computeStatus, MAX_LISTED_PODS, type PodView, type StatusInput } from '../../src/core/status.ts';
import { parseWindow, type Window } from '../../src/core/window.ts';

const T0 = Date.parse('2026-12-01T02:00:00Z');
const open: ScheduleState = {
  phase: 'open',
  windowStartMs: T0,
  windowEndMs: T0 + 3_600_000,
  nextStartMs: null,
  nextBoundaryMs: T0 + 3_600_000,
};

function mkWindow(spec: Record<string, unknown> = {}): Window {
  const parsed = parseWindow({
    metadata: { name: 'w', namespace: 'ns', generation: 3, creationTimestamp: '2026-11-30T00:00:00Z' },
    spec: {
      target: { name: 'svc', selector: { matchLabels: { app: 'svc' } } },
      drainTimeout: '45s',
      ...spec,
    },
  });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

const pod = (name: string, ready: boolean, app = 'svc'): PodView => ({ name, ready, labels: { app } });
const member = (id: string, state: MemberState): MemberReport => ({
  id,
  pod: id,
  state,
  inFlight: 0,
  drainedAt: null,
  lastTransition: '',
  lastError: null,
  window: null,
});

function run(over: Partial<StatusInput>) {
  return computeStatus({
    window: mkWindow(),
    schedule: ok(open),
    pods: [],
    members: [],
    previous: [],
    nowMs: T0 + 1_000,
    ...over,
  });
}
const cond = (cs: Condition[], type: string) => cs.find((c) => c.type === type);

describe('computeStatus', () => {
  it('a pod counts as drained only when not ready and reported in maintenance', () => {
    const r = run({
      pods: [pod('a', false), pod('b', true), pod('c', false), pod('other', false, 'x')],
      members: [member('a', 'maintenance'), member('b', 'maintenance'), member('c', 'draining')],
    });
    expect(r.status.pods).toEqual({
      selected: 3,
      notReady: 2,
      drained: 1,
      summary: '1/3',
      draining: ['b', 'c'],
    });
    expect(cond(r.status.conditions, CONDITION.Drained)).toMatchObject({
      status: 'False',
      reason: REASON.Draining,
    });
    expect(r.active).toBe(true);
  });

  it('an open window whose key write failed is not Active: the key is not claimed on', () => {
    const keyError = {
      reason: REASON.EtcdPermissionDenied,
      message: 'the etcd user "op" may not write /maintenance/svc',
    };
    const r = run({ keyError });
    expect(cond(r.status.conditions, CONDITION.Active)).toMatchObject({
      status: 'False',
      reason: REASON.EtcdPermissionDenied,
      message: 'the window is open, but key /maintenance/svc is not known to be on',
    });
    expect(cond(r.status.conditions, CONDITION.Reconciled)).toMatchObject({ status: 'False', ...keyError });
    expect(r.active).toBe(true);
    expect(cond(run({}).status.conditions, CONDITION.Active)?.status).toBe('True');
  });

  it('reports that cannot be read leave Drained and Degraded Unknown, never drained nor late', () => {
    const membersError = {
      reason: REASON.EtcdPermissionDenied,
      message: 'the etcd user "op" may not read /maintenance/svc/members/',
    };
    const r = run({ pods: [pod('a', false)], membersError, nowMs: T0 + 3_000_000 });
    for (const type of [CONDITION.Drained, CONDITION.Degraded]) {
      expect(cond(r.status.conditions, type)).toMatchObject({ status: 'Unknown', ...membersError });
    }
    expect(cond(r.status.conditions, CONDITION.Reconciled)).toMatchObject({
      status: 'False',
      ...membersError,
    });
    // The key itself was written: Active stays as it is.
    expect(cond(r.status.conditions, CONDITION.Active)?.status).toBe('True');
  });

  it('Drained when all selected pods drained; not when none is selected', () => {
    const all = run({ pods: [pod('a', false)], members: [member('a', 'maintenance')] });
    expect(cond(all.status.conditions, CONDITION.Drained)).toMatchObject({
      status: 'True',
      reason: REASON.AllDrained,
    });
    const none = run({ pods: [pod('a', false, 'x')] });
    expect(cond(none.status.conditions, CONDITION.Drained)).toMatchObject({
      status: 'False',
      reason: REASON.NoPodsSelected,
    });
  });

  it('Degraded names the stragglers once the drain timeout has passed since the window opened', () => {
    const opened = run({ nowMs: T0 });
    const input = {
      pods: [pod('a', false), pod('slow', true)],
      members: [member('a', 'maintenance')],
      previous: opened.status.conditions,
    };
    const early = run({ ...input, nowMs: T0 + 44_000 });
    expect(cond(early.status.conditions, CONDITION.Degraded)?.status).toBe('False');
    expect(early.requeueAtMs).toBe(T0 + 45_000);
    const late = run({ ...input, nowMs: T0 + 45_000 });
    expect(cond(late.status.conditions, CONDITION.Degraded)).toMatchObject({
      status: 'True',
      reason: REASON.DrainTimeoutExceeded,
    });
    expect(cond(late.status.conditions, CONDITION.Degraded)?.message).toContain('slow');
    expect(late.events.find((e) => e.reason === REASON.DrainTimeoutExceeded)?.type).toBe('Warning');
  });

  it('suspend and deletion close the window whatever the schedule says', () => {
    expect(run({ window: mkWindow({ suspend: true }) }).active).toBe(false);
    const r = run({ window: { ...mkWindow(), deleting: true } });
    expect(r.active).toBe(false);
    expect(cond(r.status.conditions, CONDITION.Active)?.reason).toBe(REASON.Deleting);
  });

  it('an invalid schedule is reported, and keeps the key off', () => {
    const w = mkWindow({ schedule: { cron: '61 * * * *', duration: '1h' } });
    expect(w.schedule.ok).toBe(false);
    const r = run({ window: w, schedule: w.schedule as never });
    expect(r.active).toBe(false);
    expect(cond(r.status.conditions, CONDITION.Scheduled)).toMatchObject({
      status: 'False',
      reason: REASON.InvalidSchedule,
    });
    expect(cond(r.status.conditions, CONDITION.Scheduled)?.message).toContain('61');
  });

  it('keeps lastTransitionTime and emits no event when nothing changed', () => {
    const first = run({});
    const again = run({ previous: first.status.conditions, nowMs: T0 + 2_000 });
    expect(again.status.conditions).toEqual(first.status.conditions);
    expect(again.events).toEqual([]);
  });

  it('property: counts stay consistent and the listed pods are bounded', () => {
    const podArb = fc.record({
      name: fc.string({ minLength: 1, maxLength: 6 }),
      ready: fc.boolean(),
      app: fc.constantFrom('svc', 'x'),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(podArb, { selector: (p) => p.name, maxLength: 40 }),
        fc.func(fc.constantFrom<MemberState | null>('running', 'draining', 'maintenance', 'resuming', null)),
        (pods, stateOf) => {
          const members = pods.flatMap((p) => {
            const s = stateOf(p.name);
            return s === null ? [] : [member(p.name, s)];
          });
          const r = run({ pods: pods.map((p) => pod(p.name, p.ready, p.app)), members });
          const c = r.status.pods;
          expect(c.selected).toBe(pods.filter((p) => p.app === 'svc').length);
          expect(c.drained).toBeLessThanOrEqual(c.notReady);
          expect(c.notReady).toBeLessThanOrEqual(c.selected);
          expect(c.draining.length).toBe(Math.min(MAX_LISTED_PODS, c.selected - c.drained));
          const drained = cond(r.status.conditions, CONDITION.Drained)?.status === 'True';
          expect(drained).toBe(c.selected > 0 && c.drained === c.selected);
        },
      ),
    );
  });
});

describe('parseWindow', () => {
  it('maps a target name to its key and applies defaults', () => {
    const w = parseWindow({ metadata: { name: 'a', namespace: 'b' }, spec: { target: { name: 'svc' } } });
    expect(w).toMatchObject({
      ok: true,
      value: {
        ref: 'b/a',
        key: '/maintenance/svc',
        mode: 'drain',
        drainTimeoutMs: 45_000,
        suspend: false,
        maxDurationMs: null,
      },
    });
  });
  it('refuses what the CRD would have refused, naming the field', () => {
    const bad = (spec: unknown) => parseWindow({ metadata: { name: 'a', namespace: 'b' }, spec });
    expect(bad({ target: { name: 'x', key: '/y' } })).toMatchObject({
      ok: false,
      error: expect.stringContaining('spec.target'),
    });
    expect(bad({ target: { name: 'x' }, drainTimeout: 'soon' })).toMatchObject({
      ok: false,
      error: expect.stringContaining('spec.drainTimeout'),
    });
    expect(bad({ target: { name: 'x' }, mode: 'stop' })).toMatchObject({
      ok: false,
      error: expect.stringContaining('spec.mode'),
    });
  });
  it('keeps the window but marks its schedule invalid for a bad zone or cron', () => {
    const w = parseWindow({
      metadata: { name: 'a', namespace: 'b' },
      spec: {
        target: { name: 'x' },
        schedule: { cron: '0 2 * * *', duration: '1h', timeZone: 'Mars/Olympus' },
      },
    });
    expect(w.ok && !w.value.schedule.ok && w.value.schedule.error).toContain('Mars/Olympus');
  });
});

describe('the status merge patch', () => {
  it('sends null for the fields that no longer apply, so the apiserver removes them', async () => {
    const { withRemovals } = await import('../../src/core/merge-patch.ts');
    const before = {
      windowStart: 'a',
      windowEnd: 'b',
      nextStart: 'c',
      pods: { selected: 1, draining: ['x'] },
    };
    expect(withRemovals(before, { nextStart: 'd', pods: { selected: 0 } })).toEqual({
      windowStart: null,
      windowEnd: null,
      nextStart: 'd',
      pods: { selected: 0, draining: null },
    });
    expect(withRemovals(undefined, { key: 'k' })).toEqual({ key: 'k' });
  });
});
