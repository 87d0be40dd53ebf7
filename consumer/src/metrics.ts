import type { EventEmitter } from 'node:events';
import { MEMBER_STATES } from '@kmaint/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  MESSAGE_DURATION_BUCKETS,
  type Buckets,
  type OutcomeCounts,
  type TopicTotals,
} from './core/stats.ts';
import type { EngineEvents, EngineSnapshot, EngineStats } from './engine/index.ts';
import { withTimeout } from '@kmaint/common';

/**
 * The part of the engine metrics read: its events, its state, its per-topic message totals, and
 * per-partition offsets for lag.
 */
export interface MetricsSource {
  readonly events: EventEmitter<EngineEvents>;
  snapshot(): Pick<EngineSnapshot, 'state' | 'desired' | 'inFlight' | 'components'>;
  messageTotals(): ReadonlyMap<string, Readonly<TopicTotals>>;
  stats(): Promise<Pick<EngineStats, 'partitions'>>;
}

export interface MetricsOptions {
  /** Longest a scrape waits for Kafka's end offsets before serving the last known lag. */
  lagTimeoutMs?: number;
  /** An application's registry to add the kmaint_* metrics to (its process metrics are its own affair). */
  registry?: Registry | undefined;
}

const STATES = MEMBER_STATES;

// prom-client's defaults include gauges named *_total, which Prometheus' naming rules (and `promtool check
// metrics`) reserve for counters; the same numbers are there per type without the suffix.
const MISNAMED_DEFAULTS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

const DURATION_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** One series of a histogram as prom-client's text writer takes it: `le` apart from the shared labels. */
interface HistogramSeries {
  labels: { le?: number | string };
  sharedLabels: { topic: string; outcome: string };
  value: number;
  metricName: string;
}

/**
 * A histogram whose observations the message path has already counted into buckets (core/stats.ts):
 * prom-client's own observe() hashes its labels on every call, once per message, and has no way to add
 * counted observations. So this one writes the series of the buckets it reads at scrape time, in the form
 * prom-client's registry (text) and its get() (JSON, cluster aggregation) both read them.
 */
class CountedHistogram extends Histogram<'topic' | 'outcome'> {
  readonly #config: { name: string; help: string };
  readonly #read: () => Iterable<[topic: string, outcome: string, buckets: Buckets]>;

  constructor(
    config: { name: string; help: string; registers: Registry[] },
    read: () => Iterable<[topic: string, outcome: string, buckets: Buckets]>,
  ) {
    super({ ...config, labelNames: ['topic', 'outcome'], buckets: [...MESSAGE_DURATION_BUCKETS] });
    this.#config = config;
    this.#read = read;
  }

  getForPromString(): Promise<{
    name: string;
    help: string;
    type: 'histogram';
    aggregator: 'sum';
    values: HistogramSeries[];
  }> {
    const { name, help } = this.#config;
    const values: HistogramSeries[] = [];
    for (const [topic, outcome, b] of this.#read()) {
      const sharedLabels = { topic, outcome };
      const upTo = b.cumulative();
      const bucket = `${name}_bucket`;
      b.bounds.forEach((le, i) =>
        values.push({ labels: { le }, sharedLabels, value: upTo[i] ?? 0, metricName: bucket }),
      );
      values.push({ labels: { le: '+Inf' }, sharedLabels, value: b.count, metricName: bucket });
      values.push({ labels: {}, sharedLabels, value: b.sum, metricName: `${name}_sum` });
      values.push({ labels: {}, sharedLabels, value: b.count, metricName: `${name}_count` });
    }
    return Promise.resolve({ name, help, type: 'histogram', aggregator: 'sum', values });
  }
}

function defaultRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULTS) registry.removeSingleMetric(name);
  return registry;
}

/**
 * The service's Prometheus registry: default process metrics plus the engine's state and counters. Event
 * driven for what happens now and then (transitions, drains, commits), read from the engine at scrape time
 * for the present and for what happens per message (its totals).
 */
export function createMetrics(source: MetricsSource, options: MetricsOptions = {}): Registry {
  const registry = options.registry ?? defaultRegistry();
  const registers = [registry];

  new Gauge({
    name: 'kmaint_maintenance_state',
    help: 'Current maintenance state: 1 for the state the service is in, 0 for the others.',
    labelNames: ['state'],
    registers,
    collect() {
      const current = source.snapshot().state;
      for (const state of STATES) this.set({ state }, state === current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kmaint_maintenance_desired',
    help: 'Whether the etcd switch asks for maintenance (1) or not (0).',
    registers,
    collect() {
      this.set(source.snapshot().desired.maintenance ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kmaint_component_up',
    help: 'Whether a dependency (kafka, etcd) is reachable and healthy (1) or not (0).',
    labelNames: ['component'],
    registers,
    collect() {
      const { components } = source.snapshot();
      this.set({ component: 'kafka' }, components.kafka.healthy ? 1 : 0);
      this.set({ component: 'etcd' }, components.etcd.healthy ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kmaint_partitions_blocked',
    help: 'Partitions held at a message that can be neither processed nor dead-lettered.',
    registers,
    collect() {
      this.set(source.snapshot().components.kafka.blockedPartitions?.length ?? 0);
    },
  });
  new Gauge({
    name: 'kmaint_messages_in_flight',
    help: 'Messages handed to the handler and not finished yet.',
    registers,
    collect() {
      this.set(source.snapshot().inFlight);
    },
  });

  const transitions = new Counter({
    name: 'kmaint_maintenance_transitions_total',
    help: 'State transitions of the maintenance state machine.',
    labelNames: ['from', 'to'],
    registers,
  });
  const transitionDuration = new Histogram({
    name: 'kmaint_maintenance_transition_duration_seconds',
    help: 'Time spent in the state a transition leaves (from draining: the drain; from resuming: the rejoin).',
    labelNames: ['from', 'to'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const drainDuration = new Histogram({
    name: 'kmaint_drain_duration_seconds',
    help: 'Duration of drains, from the switch turning on until the in-flight messages finished or were aborted.',
    labelNames: ['mode', 'timed_out'],
    buckets: DURATION_BUCKETS,
    registers,
  });
  const drainAborted = new Counter({
    name: 'kmaint_drain_aborted_messages_total',
    help: 'In-flight messages aborted at a drain timeout (they are redelivered after resume).',
    registers,
  });

  // The per-message counts are read from the totals at scrape time: counting into prom-client per message
  // would hash a label set for every message.
  const totals = (): ReadonlyMap<string, Readonly<TopicTotals>> => source.messageTotals();
  counter('kmaint_messages_received_total', 'Messages received from Kafka.', 'received');
  counter('kmaint_messages_processed_total', 'Messages the handler finished successfully.', 'processed');
  counter(
    'kmaint_messages_failed_total',
    'Messages that failed every attempt (then dead-lettered).',
    'failed',
  );
  counter('kmaint_messages_retried_total', 'Failed handler attempts that were retried.', 'retried');
  counter('kmaint_messages_dead_lettered_total', 'Messages sent to the dead-letter topic.', 'deadLettered');
  counter(
    'kmaint_messages_aborted_total',
    'Handler attempts aborted by a drain timeout or shutdown.',
    'aborted',
  );
  function counter(name: string, help: string, outcome: keyof OutcomeCounts): void {
    new Counter({
      name,
      help,
      labelNames: ['topic'],
      registers,
      collect() {
        this.reset();
        for (const [topic, t] of totals()) this.inc({ topic }, t[outcome]);
      },
    });
  }
  new CountedHistogram(
    {
      name: 'kmaint_message_processing_duration_seconds',
      help: 'Handler time of one attempt, by topic and outcome (processed, or retried after failing).',
      registers,
    },
    function* () {
      for (const [topic, t] of totals()) {
        yield [topic, 'processed', t.processedSeconds];
        yield [topic, 'retried', t.retriedSeconds];
      }
    },
  );
  const commits = new Counter({
    name: 'kmaint_offset_commits_total',
    help: 'Offset commits that reached the broker, per topic.',
    labelNames: ['topic'],
    registers,
  });
  const rebalances = new Counter({
    name: 'kmaint_consumer_rebalances_total',
    help: 'Partition assignments received from the consumer group.',
    registers,
  });
  const joinFailures = new Counter({
    name: 'kmaint_consumer_join_failures_total',
    help: 'Failed attempts to join the consumer group (each is retried with backoff).',
    registers,
  });
  const watchRestarts = new Counter({
    name: 'kmaint_etcd_watch_restarts_total',
    help: 'Restarts of the etcd switch watch (disconnect, compaction, error).',
    registers,
  });
  const unparseable = new Counter({
    name: 'kmaint_switch_unparseable_total',
    help: 'Switch values that were neither on/off words nor valid JSON (the state was kept).',
    registers,
  });

  const lagTimeoutMs = options.lagTimeoutMs ?? 2_000;
  new Gauge({
    name: 'kmaint_consumer_lag',
    help: 'Messages between the group committed offset and the end of the partition.',
    labelNames: ['topic', 'partition'],
    registers,
    async collect() {
      const stats = await withTimeout(source.stats(), lagTimeoutMs, () => new Error('lag timeout')).catch(
        () => undefined,
      );
      // Unreachable Kafka: keep the last known lag rather than pretend it is zero.
      if (stats === undefined) return;
      this.reset();
      for (const p of stats.partitions) this.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
    },
  });

  const { events } = source;
  events.on('transition', ({ from, to, durationMs }) => {
    transitions.inc({ from, to });
    transitionDuration.observe({ from, to }, durationMs / 1000);
  });
  events.on('drained', ({ mode, durationMs, leftInFlight, timedOut }) => {
    drainDuration.observe({ mode, timed_out: String(timedOut) }, durationMs / 1000);
    if (leftInFlight > 0) drainAborted.inc(leftInFlight);
  });
  events.on('commit', ({ topic }) => commits.inc({ topic }));
  events.on('rebalance', () => rebalances.inc());
  events.on('joinFailed', () => joinFailures.inc());
  events.on('watchRestart', () => watchRestarts.inc());
  events.on('invalidSwitch', () => unparseable.inc());
  return registry;
}
