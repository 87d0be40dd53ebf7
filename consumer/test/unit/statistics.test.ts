import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { EngineEvents } from '../../src/core/events.ts';
import { Statistics } from '../../src/engine/statistics.ts';

describe('Statistics', () => {
  it('announces message events only while someone listens, and counts them either way', () => {
    const events = new EventEmitter<EngineEvents>();
    const stats = new Statistics(events);
    stats.received('t', 0, ['0', '1']);
    stats.message('processed', 't', 0, '0', 1, 2);
    const seen: string[] = [];
    const listener = (e: EngineEvents['message'][0]): void => void seen.push(`${e.outcome}@${e.offset}`);
    events.on('message', listener);
    stats.received('t', 0, ['2']);
    stats.message('retried', 't', 0, '1', 1, 3);
    stats.message('processed', 't', 0, '1', 2, 1);
    events.off('message', listener);
    stats.message('processed', 't', 0, '2', 1, 1);
    expect(seen).toEqual(['received@2', 'retried@1', 'processed@1']);
    expect(stats.counters(0)).toMatchObject({ received: 3, processed: 3, retried: 1, failed: 0 });
    expect(stats.totals.topic('t').processedSeconds.count).toBe(3);
  });

  it('keeps the counters in the order /messages/stats shows them', () => {
    const stats = new Statistics(new EventEmitter<EngineEvents>());
    expect(Object.keys(stats.counters(0))).toEqual([
      'received',
      'processed',
      'failed',
      'retried',
      'deadLettered',
      'commits',
      'rebalances',
      'inFlight',
      'errors',
    ]);
  });
});
