import type { MaintenanceMode } from '@kmaint/common';
import type { Desired, EngineState } from './types.ts';

/**
 * The engine's one state machine: starting → joining → running → draining → maintenance → resuming →
 * running. It keeps the desired state (from the switch) apart from the actual one, and at most one effect
 * runs at a time; desired changes that arrive meanwhile are only remembered, so a pile of toggles
 * collapses to the latest. `running` means a consumer session is live: a join that did not happen and a
 * session that died both leave it (to `joining`, or stay in maintenance), so nothing reports consuming
 * that is not. Pure: `step` returns the next machine and the effect the caller must run, then report with
 * `done`.
 */
export type Effect =
  /** Stop fetching, finish or abort in-flight work, commit; `mode` drain also leaves the group. */
  | { type: 'drain'; mode: MaintenanceMode; timeoutMs: number | null }
  /** Join the group (after a drain or at start) or, after a pause, resume fetching. */
  | { type: 'resume'; how: 'join' | 'unpause' }
  /** In a paused maintenance that must now leave the group (switched to drain, or shutting down). */
  | { type: 'leave' }
  /** Shutting down and out of the group: release everything. */
  | { type: 'stop' };

export interface Machine {
  state: EngineState;
  desired: Desired;
  /** Whether this member holds a group membership (running, or paused in maintenance). */
  inGroup: boolean;
  /** Mode of the current or last maintenance; null before the first. */
  mode: MaintenanceMode | null;
  /** The effect being run, if any. */
  pending: Effect | null;
  /** The consumer session died while `pending` ran: its outcome holds no membership. */
  lost: boolean;
  shuttingDown: boolean;
  shutdownTimeoutMs: number | null;
  stopped: boolean;
}

export type Input =
  | { type: 'desired'; desired: Desired }
  /** The pending effect finished; a join says whether a session was made (false: given up for the switch or a shutdown). */
  | { type: 'done'; joined?: boolean }
  /** The consumer session died (a crash the client does not recover from, or a stall). */
  | { type: 'lost' }
  | { type: 'shutdown'; timeoutMs: number | null };

export interface Step {
  machine: Machine;
  effect: Effect | null;
}

export const OFF: Desired = Object.freeze({
  maintenance: false,
  mode: 'drain',
  reason: null,
  window: null,
  drainTimeoutMs: null,
});

/** The machine before the switch was read: not consuming, and not in maintenance either. */
export function starting(): Machine {
  return {
    state: 'starting',
    desired: OFF,
    inGroup: false,
    mode: null,
    pending: null,
    lost: false,
    shuttingDown: false,
    shutdownTimeoutMs: null,
    stopped: false,
  };
}

/**
 * The machine once the switch was read, before anything joined: if the switch is on, it is already in
 * maintenance (a pod that starts during a window does not join); otherwise it is joining, which is not
 * maintenance (the API serves what needs no group membership, readiness waits for the session).
 */
export function initial(desired: Desired): Step {
  return reconcile({
    ...starting(),
    state: desired.maintenance ? 'maintenance' : 'joining',
    desired,
    mode: desired.maintenance ? desired.mode : null,
  });
}

export function step(machine: Machine, input: Input): Step {
  if (machine.stopped) return { machine, effect: null };
  switch (input.type) {
    case 'desired':
      return reconcile({ ...machine, desired: input.desired });
    case 'shutdown':
      if (machine.shuttingDown) return { machine, effect: null };
      return reconcile({ ...machine, shuttingDown: true, shutdownTimeoutMs: input.timeoutMs });
    case 'lost':
      if (machine.pending !== null) return { machine: { ...machine, lost: true }, effect: null };
      return reconcile({
        ...machine,
        inGroup: false,
        state: machine.state === 'running' ? 'joining' : machine.state,
      });
    case 'done':
      if (machine.pending === null) throw new Error('"done" reported with no effect pending');
      return reconcile(completed(machine, machine.pending, input.joined ?? true));
  }
}

function completed(m: Machine, effect: Effect, joined: boolean): Machine {
  const next = { ...m, pending: null, lost: false };
  switch (effect.type) {
    case 'drain':
      return { ...next, state: 'maintenance', inGroup: effect.mode === 'pause' && !m.lost };
    case 'resume': {
      if ((effect.how === 'join' && !joined) || m.lost) {
        // No session came of it (or it already died): back to wanting one, or in maintenance if the
        // switch is on now; never `running`.
        return m.desired.maintenance
          ? { ...next, state: 'maintenance', inGroup: false, mode: m.desired.mode }
          : { ...next, state: 'joining', inGroup: false };
      }
      return { ...next, state: 'running', inGroup: true };
    }
    case 'leave':
      return { ...next, inGroup: false, mode: 'drain' };
    case 'stop':
      return { ...next, stopped: true };
  }
}

/** Desired vs actual: the one effect (if any) that moves the actual state toward the desired one. */
export function reconcile(m: Machine): Step {
  if (m.pending !== null || m.stopped) return { machine: m, effect: null };
  const go = (effect: Effect, changes: Partial<Machine> = {}): Step => ({
    machine: { ...m, ...changes, pending: effect },
    effect,
  });

  if (m.shuttingDown) {
    if (m.state === 'running') {
      return go(
        { type: 'drain', mode: 'drain', timeoutMs: m.shutdownTimeoutMs },
        { state: 'draining', mode: 'drain' },
      );
    }
    if (m.inGroup) return go({ type: 'leave' });
    return go({ type: 'stop' });
  }

  const want = m.desired;
  if (m.state === 'joining') {
    // Not in the group and nothing in flight: a switch that turns on finds the member drained already.
    if (want.maintenance) return { machine: { ...m, state: 'maintenance', mode: want.mode }, effect: null };
    return go({ type: 'resume', how: 'join' });
  }
  if (m.state === 'running' && want.maintenance) {
    return go(
      { type: 'drain', mode: want.mode, timeoutMs: want.drainTimeoutMs },
      { state: 'draining', mode: want.mode },
    );
  }
  if (m.state === 'maintenance' && want.maintenance && want.mode === 'drain' && m.inGroup) {
    return go({ type: 'leave' });
  }
  if (m.state === 'maintenance' && !want.maintenance) {
    return go({ type: 'resume', how: m.inGroup ? 'unpause' : 'join' }, { state: 'resuming' });
  }
  return { machine: m, effect: null };
}
