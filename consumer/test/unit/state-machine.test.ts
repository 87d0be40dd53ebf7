import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OFF, initial, step, type Effect, type Input, type Machine } from '../../src/core/state-machine.ts';
import type { Desired } from '../../src/core/types.ts';

const on = (mode: 'drain' | 'pause' = 'drain'): Desired => ({ ...OFF, maintenance: true, mode });

function run(m: Machine, inputs: Input[]): { machine: Machine; effects: Effect[] } {
  const effects: Effect[] = [];
  for (const input of inputs) {
    const s = step(m, input);
    m = s.machine;
    if (s.effect) effects.push(s.effect);
  }
  return { machine: m, effects };
}

describe('state machine', () => {
  it('starts in maintenance without joining when the switch is on', () => {
    const s = initial(on());
    expect(s.machine.state).toBe('maintenance');
    expect(s.effect).toBeNull();
  });

  it('runs a whole cycle: running → draining → maintenance → resuming → running', () => {
    let { machine, effect } = initial(OFF);
    expect(effect).toEqual({ type: 'resume', how: 'join' });
    ({ machine } = step(machine, { type: 'done' }));
    expect(machine.state).toBe('running');
    ({ machine, effect } = step(machine, { type: 'desired', desired: on() }));
    expect(machine.state).toBe('draining');
    expect(effect).toEqual({ type: 'drain', mode: 'drain', timeoutMs: null });
    ({ machine } = step(machine, { type: 'done' }));
    expect(machine.state).toBe('maintenance');
    expect(machine.inGroup).toBe(false);
    ({ machine, effect } = step(machine, { type: 'desired', desired: OFF }));
    expect(effect).toEqual({ type: 'resume', how: 'join' });
    expect(step(machine, { type: 'done' }).machine.state).toBe('running');
  });

  it('collapses toggles during a drain to the latest desired state', () => {
    let { machine } = initial(OFF);
    ({ machine } = step(machine, { type: 'done' }));
    ({ machine } = step(machine, { type: 'desired', desired: on() }));
    const { machine: m2, effects } = run(machine, [
      { type: 'desired', desired: OFF },
      { type: 'desired', desired: on() },
      { type: 'desired', desired: OFF },
    ]);
    expect(effects).toEqual([]);
    const after = step(m2, { type: 'done' });
    expect(after.machine.state).toBe('resuming');
    expect(after.effect).toEqual({ type: 'resume', how: 'join' });
  });

  it('pause stays in the group and unpauses; switching to drain meanwhile leaves', () => {
    let { machine } = initial(OFF);
    ({ machine } = step(machine, { type: 'done' }));
    ({ machine } = step(machine, { type: 'desired', desired: on('pause') }));
    ({ machine } = step(machine, { type: 'done' }));
    expect(machine.inGroup).toBe(true);
    const leave = step(machine, { type: 'desired', desired: on('drain') });
    expect(leave.effect).toEqual({ type: 'leave' });
    const resumed = step(step(leave.machine, { type: 'done' }).machine, { type: 'desired', desired: OFF });
    expect(resumed.effect).toEqual({ type: 'resume', how: 'join' });
  });

  it('shutdown from paused maintenance leaves, then stops, and ignores the switch afterwards', () => {
    let { machine } = initial(OFF);
    ({ machine } = step(machine, { type: 'done' }));
    ({ machine } = step(machine, { type: 'desired', desired: on('pause') }));
    ({ machine } = step(machine, { type: 'done' }));
    let s = step(machine, { type: 'shutdown', timeoutMs: 5 });
    expect(s.effect).toEqual({ type: 'leave' });
    s = step(s.machine, { type: 'done' });
    expect(s.effect).toEqual({ type: 'stop' });
    s = step(s.machine, { type: 'done' });
    expect(s.machine.stopped).toBe(true);
    expect(step(s.machine, { type: 'desired', desired: OFF }).effect).toBeNull();
  });

  it('defect 1: at start with the switch off the state is joining, which is not maintenance', () => {
    const s = initial(OFF);
    expect(s.machine.state).toBe('joining');
    expect(s.effect).toEqual({ type: 'resume', how: 'join' });
  });

  it('defect 2: a join given up because a pause window arrived is not running, and the window does not unpause a session that does not exist', () => {
    let s = initial(OFF);
    s = step(s.machine, { type: 'desired', desired: on('pause') });
    s = step(s.machine, { type: 'done', joined: false });
    expect(s.machine.state).toBe('maintenance');
    expect(s.machine.inGroup).toBe(false);
    expect(s.effect).toBeNull();
    s = step(s.machine, { type: 'desired', desired: OFF });
    expect(s.effect).toEqual({ type: 'resume', how: 'join' });
  });

  it('defect 2: a session that dies while running goes to joining and joins again', () => {
    let s = step(initial(OFF).machine, { type: 'done' });
    expect(s.machine.state).toBe('running');
    s = step(s.machine, { type: 'lost' });
    expect(s.machine.state).toBe('joining');
    expect(s.effect).toEqual({ type: 'resume', how: 'join' });
  });

  it('defect 2: a session that dies while paused is joined again after the window, not unpaused', () => {
    let s = step(initial(OFF).machine, { type: 'done' });
    s = step(s.machine, { type: 'desired', desired: on('pause') });
    s = step(s.machine, { type: 'done' });
    s = step(s.machine, { type: 'lost' });
    expect(s.machine.state).toBe('maintenance');
    expect(s.machine.inGroup).toBe(false);
    s = step(s.machine, { type: 'desired', desired: OFF });
    expect(s.effect).toEqual({ type: 'resume', how: 'join' });
  });

  it('defect 2: a session that dies before its join is reported done does not count as running', () => {
    let s = initial(OFF);
    s = step(s.machine, { type: 'lost' });
    s = step(s.machine, { type: 'done', joined: true });
    expect(s.machine.state).toBe('joining');
    expect(s.effect).toEqual({ type: 'resume', how: 'join' });
  });

  it('refuses a "done" with nothing pending', () => {
    const { machine } = initial(on());
    expect(() => step(machine, { type: 'done' })).toThrow();
  });

  const desiredArb = fc.oneof(
    fc.constant(OFF),
    fc.constantFrom<'drain' | 'pause'>('drain', 'pause').map((mode) => on(mode)),
  );
  const inputArb = fc.oneof(
    desiredArb.map((desired): Input => ({ type: 'desired', desired })),
    fc.constant<Input>({ type: 'done' }),
    fc.constant<Input>({ type: 'done', joined: false }),
    fc.constant<Input>({ type: 'lost' }),
    fc.constant<Input>({ type: 'shutdown', timeoutMs: null }),
  );

  it('property: one effect at a time, and once quiet the actual state matches the desired one', () => {
    fc.assert(
      fc.property(desiredArb, fc.array(inputArb, { maxLength: 80 }), desiredArb, (start, inputs, last) => {
        let { machine } = initial(start);
        let shutdownSeen = false;
        for (const input of inputs) {
          if (input.type === 'done' && machine.pending === null) continue;
          const s = step(machine, input);
          if (s.effect) expect(machine.pending === null || input.type === 'done').toBe(true);
          if (input.type === 'shutdown') shutdownSeen = true;
          if (shutdownSeen && s.effect) expect(s.effect.type === 'resume').toBe(false);
          // Running is only ever reported with a session.
          if (s.machine.state === 'running') expect(s.machine.inGroup).toBe(true);
          if (input.type === 'lost' && s.machine.pending === null)
            expect(s.machine.state).not.toBe('running');
          machine = s.machine;
        }
        machine = step(machine, { type: 'desired', desired: last }).machine;
        for (let i = 0; i < 10 && machine.pending !== null; i++)
          machine = step(machine, { type: 'done' }).machine;
        expect(machine.pending).toBeNull();
        if (shutdownSeen) {
          expect(machine.stopped).toBe(true);
          expect(machine.inGroup).toBe(false);
        } else if (last.maintenance) {
          expect(machine.state).toBe('maintenance');
          if (last.mode === 'drain') expect(machine.inGroup).toBe(false);
        } else {
          expect(machine.state).toBe('running');
          expect(machine.inGroup).toBe(true);
        }
      }),
    );
  });
});
