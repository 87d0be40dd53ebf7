import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { EngineEvents, EngineSnapshot, PartitionStats } from '../../../src/engine/index.ts';
import { Statistics } from '../../../src/engine/statistics.ts';
import { createMetrics } from '../../../src/metrics.ts';

type Snap = Pick<EngineSnapshot, 'state' | 'desired' | 'inFlight' | 'components'>;

function fakeSource() {
  const snap: Snap = {
    state: 'running',
    desired: { maintenance: false, mode: 'drain', reason: null, window: null, drainTimeoutMs: null },
    inFlight: 2,
    components: { kafka: { healthy: true, detail: 'ok' }, etcd: { healthy: false, detail: 'down' } },
  };
  const events = new EventEmitter<EngineEvents>();
  const statistics = new Statistics(events);
  const source = {
    events,
    statistics,
    messageTotals: () => statistics.totals.topics(),
    snap,
    partitions: [
      { topic: 't', partition: 0, committedOffset: '3', endOffset: '10', lag: 7 },
    ] as PartitionStats[],
    statsFail: false,
    snapshot: () => snap,
    stats: async () => {
      if (source.statsFail) throw new Error('kafka down');
      return { partitions: source.partitions };
    },
  };
  return source;
}

const value = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('metrics', () => {
  it('shows the current state as one gauge per state', async () => {
    const source = fakeSource();
    const registry = createMetrics(source);
    let text = await registry.metrics();
    expect(value(text, 'kmaint_maintenance_state{state="running"}')).toBe(1);
    expect(value(text, 'kmaint_maintenance_state{state="maintenance"}')).toBe(0);
    source.snap.state = 'maintenance';
    source.snap.desired = { ...source.snap.desired, maintenance: true };
    text = await registry.metrics();
    expect(value(text, 'kmaint_maintenance_state{state="running"}')).toBe(0);
    expect(value(text, 'kmaint_maintenance_state{state="maintenance"}')).toBe(1);
    expect(value(text, 'kmaint_maintenance_desired')).toBe(1);
    expect(value(text, 'kmaint_messages_in_flight')).toBe(2);
    expect(value(text, 'kmaint_component_up{component="etcd"}')).toBe(0);
  });

  it('counts what the engine announces', async () => {
    const source = fakeSource();
    const registry = createMetrics(source);
    const { events } = source;
    const { statistics } = source;
    statistics.received('t', 0, ['1', '2']);
    statistics.message('processed', 't', 0, '1', 1, 20);
    statistics.message('retried', 't', 0, '2', 1, 3);
    statistics.message('failed', 't', 0, '2', 2, 0);
    statistics.message('deadLettered', 't', 0, '2', 2, 0);
    events.emit('commit', { topic: 't', partition: 0, offset: '2' });
    events.emit('rebalance', { assigned: { t: [0] } });
    events.emit('watchRestart', { reason: 'compacted' });
    events.emit('invalidSwitch', { raw: 'maybe', error: 'no', at: new Date().toISOString() });
    events.emit('transition', { from: 'running', to: 'draining', durationMs: 60_000, at: '' });
    events.emit('transition', { from: 'draining', to: 'maintenance', durationMs: 1500, at: '' });
    events.emit('drained', { mode: 'drain', durationMs: 1500, leftInFlight: 3, timedOut: true });
    const text = await registry.metrics();
    expect(value(text, 'kmaint_messages_received_total{topic="t"}')).toBe(2);
    expect(value(text, 'kmaint_messages_processed_total{topic="t"}')).toBe(1);
    expect(value(text, 'kmaint_messages_failed_total{topic="t"}')).toBe(1);
    expect(value(text, 'kmaint_messages_retried_total{topic="t"}')).toBe(1);
    expect(value(text, 'kmaint_messages_dead_lettered_total{topic="t"}')).toBe(1);
    expect(value(text, 'kmaint_messages_aborted_total{topic="t"}')).toBe(0);
    const duration = 'kmaint_message_processing_duration_seconds';
    expect(value(text, `${duration}_bucket{le="0.01",topic="t",outcome="processed"}`)).toBe(0);
    expect(value(text, `${duration}_bucket{le="0.05",topic="t",outcome="processed"}`)).toBe(1);
    expect(value(text, `${duration}_bucket{le="+Inf",topic="t",outcome="processed"}`)).toBe(1);
    expect(value(text, `${duration}_sum{topic="t",outcome="processed"}`)).toBe(0.02);
    expect(value(text, `${duration}_count{topic="t",outcome="retried"}`)).toBe(1);
    expect(value(text, `${duration}_bucket{le="0.001",topic="t",outcome="retried"}`)).toBe(0);
    expect(value(text, `${duration}_bucket{le="0.005",topic="t",outcome="retried"}`)).toBe(1);
    const json = (await registry.getMetricsAsJSON()).find((m) => m.name === duration);
    expect(json?.type).toBe('histogram');
    expect(json?.values).toContainEqual({
      labels: { le: 0.05, topic: 't', outcome: 'processed' },
      value: 1,
      metricName: `${duration}_bucket`,
    });
    expect(value(text, 'kmaint_offset_commits_total{topic="t"}')).toBe(1);
    expect(value(text, 'kmaint_consumer_rebalances_total')).toBe(1);
    expect(value(text, 'kmaint_etcd_watch_restarts_total')).toBe(1);
    expect(value(text, 'kmaint_switch_unparseable_total')).toBe(1);
    expect(value(text, 'kmaint_maintenance_transitions_total{from="draining",to="maintenance"}')).toBe(1);
    expect(
      value(text, 'kmaint_maintenance_transition_duration_seconds_sum{from="draining",to="maintenance"}'),
    ).toBe(1.5);
    expect(value(text, 'kmaint_drain_duration_seconds_count{mode="drain",timed_out="true"}')).toBe(1);
    expect(value(text, 'kmaint_drain_aborted_messages_total')).toBe(3);
  });

  it('reports per-partition lag and keeps the last known lag when Kafka cannot answer', async () => {
    const source = fakeSource();
    const registry = createMetrics(source);
    expect(value(await registry.metrics(), 'kmaint_consumer_lag{topic="t",partition="0"}')).toBe(7);
    source.statsFail = true;
    expect(value(await registry.metrics(), 'kmaint_consumer_lag{topic="t",partition="0"}')).toBe(7);
    source.statsFail = false;
    source.partitions = [{ topic: 't', partition: 1, committedOffset: null, endOffset: '4', lag: 4 }];
    const text = await registry.metrics();
    expect(value(text, 'kmaint_consumer_lag{topic="t",partition="0"}')).toBeUndefined();
    expect(value(text, 'kmaint_consumer_lag{topic="t",partition="1"}')).toBe(4);
  });

  it('includes the default process metrics, without gauges misnamed as counters', async () => {
    const text = await createMetrics(fakeSource()).metrics();
    expect(text).toContain('process_cpu_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
    const gauges = [...text.matchAll(/^# TYPE (\S+) gauge$/gm)].map((m) => m[1]);
    expect(gauges.filter((name) => name?.endsWith('_total'))).toEqual([]);
  });

  it('keeps separate registries apart (two services in one test process)', async () => {
    const a = createMetrics(fakeSource());
    const b = createMetrics(fakeSource());
    expect(await a.metrics()).toContain('kmaint_maintenance_state');
    expect(await b.metrics()).toContain('kmaint_maintenance_state');
  });
});
