import { setTimeout as sleep } from 'node:timers/promises';
import { uniqueName } from '../../test/env/helpers.ts';
import type { BenchEnv } from '../lib/env.ts';
import { benchClients, createTopic, produce, whenMembers, type BenchClients } from '../lib/kafka.ts';
import { loadAverage } from '../lib/machine.ts';
import { Probe } from '../lib/probe.ts';
import { formatSummary, summarize, type Summary } from '../lib/stats.ts';
import type { Benchmark, BenchOutput } from '../lib/types.ts';
import {
  EngineSubject,
  RawKafkajsSubject,
  type EngineVariant,
  type Subject,
  type SubjectSetup,
} from '../lib/subjects.ts';

const PARTITIONS = 3;
/** Work time of each in-flight message in the loaded scenario. */
const WORK_MS = 200;
/** The goal: switch-on → left group ≤ longest in-flight message + 250 ms. */
const GOAL_EXCESS_MS = 250;
/** Loaded: the put comes this long after every partition's message started. */
const INFLIGHT_PHASE_MS = 50;
/** Idle: the consumer has had nothing to do for at least this long before the put. */
const IDLE_SETTLE_MS = 300;
const REPS = { kmaint: 20, kmaintStatic: 20, raw250: 15, raw5000: 8 };

type Scenario = 'idle' | 'inflight';

interface Sample {
  /** put true → the subject's etcd watch delivered it (kmaint: its `desired` event). */
  switchSeenMs: number;
  /** put true → the subject says stopped (kmaint: state=maintenance; kafkajs: stop() resolved). */
  toStoppedMs: number;
  /** put true → describeGroups shows no member. */
  toLeftMs: number;
  /** put true → the last message that was in flight finished (0 when idle). */
  inFlightRemainingMs: number;
  /** left group − max(put, last in-flight finish): what the drain adds beyond the work it waited for. */
  excessMs: number;
  /** Handler calls that began after the put (a drain should start none). */
  startedAfterPut: number;
  /** put false → the first message handed to the handler again. */
  resumeMs: number;
}

interface VariantResult {
  subject: string;
  scenario: Scenario;
  samples: Sample[];
  switchSeenMs: Summary;
  toStoppedMs: Summary;
  toLeftMs: Summary;
  excessMs: Summary;
  resumeMs: Summary;
  inFlightRemainingMs: Summary;
  /** Samples whose excess is within the 250 ms goal. */
  withinGoal: number;
  startedAfterPut: number;
  loadAvg: number[];
}

type MakeSubject = (s: SubjectSetup) => Subject;

/**
 * kmaint on @platformatic/kafka as a static member (KIP-345), under its member id: a drain still leaves
 * the group, so what it changes is the rejoin at the resume.
 */
function staticMembership(s: SubjectSetup): EngineVariant {
  return {
    label: 'kmaint on @platformatic/kafka, static membership',
    variables: {
      KAFKA_CLIENT: 'platformatic',
      KAFKA_STATIC_MEMBERSHIP: 'true',
      KAFKA_GROUP_INSTANCE_ID: s.memberId,
    },
  };
}

async function measureVariant(
  c: BenchClients,
  make: MakeSubject,
  scenario: Scenario,
  reps: number,
  log: (line: string) => void,
): Promise<VariantResult> {
  const topic = uniqueName(`drain-${scenario}`);
  const groupId = uniqueName('g-drain');
  const key = `/maintenance/${uniqueName('bench')}`;
  await createTopic(c, topic, PARTITIONS);
  await c.etcd.put(key).value('false');
  const probe = new Probe();
  const workMs = scenario === 'inflight' ? WORK_MS : 0;
  // Loaded: enough queued slow messages that every partition is busy whenever the switch turns on.
  if (scenario === 'inflight') await produce(c, topic, PARTITIONS * (reps * 4 + 20), PARTITIONS, 'slow');
  const subject = make({ topic, groupId, key, memberId: uniqueName('member'), probe, workMs });
  const samples: Sample[] = [];
  try {
    await subject.start();
    await whenMembers(c, groupId, 1);
    if (scenario === 'idle') {
      await produce(c, topic, PARTITIONS, PARTITIONS, 'warm');
      await probe.until(() => probe.finished >= PARTITIONS, 30_000, 'warm-up messages');
    }
    for (let rep = 0; rep < reps; rep++) {
      if (scenario === 'inflight') {
        // A moment at which one message per partition is running, and the engine has seen them all start.
        const before = probe.started;
        await probe.until(() => probe.started > before && probe.inFlight === PARTITIONS, 30_000, 'all busy');
        await sleep(INFLIGHT_PHASE_MS);
      } else {
        // Switch-on lands at evenly spread phases of the consumer's fetch long-poll, which a stop() may
        // have to wait out (kafkajs ends its fetch loop only when the pending fetch returns).
        await sleep(IDLE_SETTLE_MS + ((rep + 0.5) / reps) * subject.fetchWaitMs);
      }
      const startedBefore = probe.started;
      const left = whenMembers(c, groupId, 0);
      const stopped = subject.whenStopped();
      const seen = subject.whenSwitchedOn();
      const putAt = performance.now();
      await c.etcd.put(key).value('true');
      const [leftAt, stoppedAt, seenAt] = await Promise.all([left, stopped, seen]);
      const lastFinish = scenario === 'inflight' ? probe.lastFinishAt : putAt;
      const sample: Omit<Sample, 'resumeMs'> = {
        switchSeenMs: seenAt - putAt,
        toStoppedMs: stoppedAt - putAt,
        toLeftMs: leftAt - putAt,
        inFlightRemainingMs: Math.max(0, lastFinish - putAt),
        excessMs: leftAt - Math.max(putAt, lastFinish),
        startedAfterPut: probe.started - startedBefore,
      };
      // Idle: give the consumer something to resume with; loaded: the queue is still full.
      if (scenario === 'idle') await produce(c, topic, PARTITIONS, PARTITIONS, `r${rep}`);
      const startedInMaintenance = probe.started;
      const resumed = probe.until(
        () => probe.started > startedInMaintenance,
        60_000,
        'first message after resume',
      );
      const offAt = performance.now();
      await c.etcd.put(key).value('false');
      const resumeMs = (await resumed) - offAt;
      samples.push({ ...sample, resumeMs });
      log(
        `  ${subject.label} ${scenario} #${rep + 1}: stopped ${sample.toStoppedMs.toFixed(0)} ms, left ${sample.toLeftMs.toFixed(0)} ms` +
          ` (in flight ${sample.inFlightRemainingMs.toFixed(0)}, excess ${sample.excessMs.toFixed(0)}), resume ${resumeMs.toFixed(0)} ms`,
      );
      await subject.whenRunning();
      await whenMembers(c, groupId, 1);
      // Idle: the next put must find nothing in flight (warm-up and each rep's messages done).
      if (scenario === 'idle')
        await probe.until(() => probe.finished >= PARTITIONS * (rep + 2), 30_000, 'idle');
    }
  } finally {
    await subject.close();
  }
  const pick = (f: (s: Sample) => number): Summary => summarize(samples.map(f));
  return {
    subject: subject.label,
    scenario,
    samples,
    switchSeenMs: pick((s) => s.switchSeenMs),
    toStoppedMs: pick((s) => s.toStoppedMs),
    toLeftMs: pick((s) => s.toLeftMs),
    excessMs: pick((s) => s.excessMs),
    resumeMs: pick((s) => s.resumeMs),
    inFlightRemainingMs: pick((s) => s.inFlightRemainingMs),
    withinGoal: samples.filter((s) => s.excessMs <= GOAL_EXCESS_MS).length,
    startedAfterPut: samples.reduce((n, s) => n + s.startedAfterPut, 0),
    loadAvg: loadAverage(),
  };
}

function summaryLines(variants: VariantResult[]): string[] {
  const lines = [
    `Switch-on (etcd put \`true\`) → stopped (kmaint: state=maintenance; kafkajs: stop() resolved) and → ` +
      `the member gone from describeGroups; switch-off (put \`false\`) → the first message handed to the ` +
      `handler again (resume); ` +
      `${PARTITIONS} partitions; loaded = one ${WORK_MS} ms message in flight on every partition at the put. ` +
      `"excess" = left group − max(put, last in-flight message done); goal ≤ ${GOAL_EXCESS_MS} ms.`,
    '',
    'Idle puts land at evenly spread phases of each consumer’s fetch long-poll: kafkajs `stop()` ends its fetch ' +
      'loop only when the pending fetch returns, which an idle consumer must wait out (up to maxWait); with ' +
      'messages flowing that fetch has usually returned already, so maxWait barely matters under load.',
    '',
    '| subject | scenario | n | put→watch saw it median / p95 | put→stopped median / p95 | put→left median / p95 (min–max) | in-flight left at put (median) | excess median / p95 | within goal | started after put | resume median / p95 / p99 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const r = (x: number): string => `${Math.round(x)}`;
  for (const v of variants) {
    lines.push(
      `| ${v.subject} | ${v.scenario} | ${v.toLeftMs.n} | ${r(v.switchSeenMs.median)} / ${r(v.switchSeenMs.p95)} ms | ${r(v.toStoppedMs.median)} / ${r(v.toStoppedMs.p95)} ms | ` +
        `${r(v.toLeftMs.median)} / ${r(v.toLeftMs.p95)} ms (${r(v.toLeftMs.min)}–${r(v.toLeftMs.max)}) | ` +
        `${r(v.inFlightRemainingMs.median)} ms | ${r(v.excessMs.median)} / ${r(v.excessMs.p95)} ms | ` +
        `${v.withinGoal}/${v.samples.length} | ${v.startedAfterPut} | ${r(v.resumeMs.median)} / ${r(v.resumeMs.p95)} / ${r(v.resumeMs.p99)} ms |`,
    );
  }
  return lines;
}

export const drain: Benchmark = {
  name: 'drain',
  title: 'Drain and resume latency',
  async run(env: BenchEnv, log): Promise<BenchOutput> {
    const c = await benchClients(env);
    const variants: VariantResult[] = [];
    try {
      const subjects: [MakeSubject, number][] = [
        [(s) => new EngineSubject(env, s), REPS.kmaint],
        [(s) => new EngineSubject(env, s, staticMembership(s)), REPS.kmaintStatic],
        [(s) => new RawKafkajsSubject(env, c.etcd, s, 250), REPS.raw250],
        [(s) => new RawKafkajsSubject(env, c.etcd, s, 5_000), REPS.raw5000],
      ];
      for (const scenario of ['idle', 'inflight'] as const) {
        for (const [make, reps] of subjects) {
          const v = await measureVariant(c, make, scenario, reps, log);
          log(
            `${v.subject} ${v.scenario}: left ${formatSummary(v.toLeftMs)}; excess ${formatSummary(v.excessMs)}`,
          );
          variants.push(v);
        }
      }
    } finally {
      await c.close();
    }
    return {
      params: {
        partitions: PARTITIONS,
        inFlightWorkMs: WORK_MS,
        goalExcessMs: GOAL_EXCESS_MS,
        reps: REPS,
        leftDetection: 'kafkajs admin.describeGroups polled every 5 ms from before the put',
        kmaintSettings: 'service defaults (loadConfig({})): maxWaitTime 250 ms, 5 workers, session 30 s',
        kmaintStatic:
          'the same with KAFKA_CLIENT=platformatic, KAFKA_STATIC_MEMBERSHIP=true and KAFKA_GROUP_INSTANCE_ID the member id',
        baseline:
          'kafkajs consumer (eachMessage, autoCommit, partitionsConsumedConcurrently 3, session 30 s) whose etcd watch calls stop() / run()',
      },
      results: { variants },
      summary: summaryLines(variants),
    };
  },
};
