import { describe, expect, it } from 'vitest';
import { StallWatch } from '../../src/core/stall-watch.ts';

describe('StallWatch', () => {
  it('calls a session stalled only after the limit passes without any activity', () => {
    const w = new StallWatch(1_000, 0);
    expect(w.stalled(1_000)).toBe(false);
    expect(w.stalled(1_001)).toBe(true);
    w.activity(1_500);
    expect(w.stalled(2_400)).toBe(false);
    expect(w.stalled(2_501)).toBe(true);
  });

  it('never while a batch handler runs, however long it takes', () => {
    const w = new StallWatch(1_000, 0);
    w.batchStarted(0);
    w.batchStarted(10);
    w.batchEnded(20);
    expect(w.stalled(60_000)).toBe(false);
    w.batchEnded(60_000);
    expect(w.stalled(60_500)).toBe(false);
    expect(w.stalled(61_001)).toBe(true);
  });

  it('never while paused, and counts afresh from the resume', () => {
    const w = new StallWatch(1_000, 0);
    w.pause();
    expect(w.stalled(10_000)).toBe(false);
    w.resume(10_000);
    expect(w.stalled(10_900)).toBe(false);
    expect(w.stalled(11_001)).toBe(true);
  });
});
