import { setTimeout as sleep } from 'node:timers/promises';
import { uniqueName, waitFor } from '../../test/env/helpers.ts';
import type { BenchEnv } from '../lib/env.ts';
import { benchClients, createTopic, whenMembers, type BenchClients } from '../lib/kafka.ts';
import { loadAverage } from '../lib/machine.ts';
import { Probe } from '../lib/probe.ts';
import { formatSummary, summarize, type Summary } from '../lib/stats.ts';
import { EngineSubject, RawKafkajsSubject, type Subject, type SubjectSetup } from '../lib/subjects.ts';
import type { Benchmark, BenchOutput } from '../lib/types.ts';

const PARTITIONS = 3;
const CYCLES = 20;
/** Load while cycling: a batch of messages every tick, each taking WORK_MS in the handler. */
const LOAD = { perTick: 20, tickMs: 50 };
const WORK_MS = 2;
/** How long each maintenance lasts, and how long consumption runs between two. */
const HOLD_MS = { maintenance: 300, running: 700 };

interface CycleSample {
  /** put true → stopped (kmaint: state=maintenance; kafkajs: stop() resolved). */
  drainMs: number;
  /** put false → first message handled again. */
  resumeMs: number;
  /** Messages running at the put. */
  inFlightAtPut: number;
}

interface SoakResult {
  subject: string;
  cycles: CycleSample[];
  drainMs: Summary;
  resumeMs: Summary;
  produced: number;
  distinct: number;
  /** Handler completions beyond the first per message (redelivered after a drain). */
  duplicates: number;
  /** Produced messages never completed. */
  missing: number;
  /** Handler calls that began while the subject said it was stopped. */
  startedWhileStopped: number;
  /** Committed offsets equal the end offsets once the load stopped and the backlog was consumed. */
  fullyCommitted: boolean;
  loadAvg: number[];
}

/** Produces `perTick` messages every tick until stopped; resolves with how many it sent. */
function startLoad(c: BenchClients, topic: string): { stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  const loop = (async () => {
    while (running) {
      const messages = Array.from({ length: LOAD.perTick }, (_, i) => ({
        value: `soak-${sent + i}`,
        partition: (sent + i) % PARTITIONS,
      }));
      await c.producer.send({ topic, messages });
      sent += messages.length;
      await sleep(LOAD.tickMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return sent;
    },
  };
}

async function committedEqualsEnd(c: BenchClients, groupId: string, topic: string): Promise<boolean> {
  const [[committed], ends] = await Promise.all([
    c.admin.fetchOffsets({ groupId, topics: [topic] }),
    c.admin.fetchTopicOffsets(topic),
  ]);
  const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, p.offset]));
  return ends.every((e) => byPartition.get(e.partition) === e.high);
}

async function soakOne(
  c: BenchClients,
  make: (s: SubjectSetup) => Subject,
  log: (line: string) => void,
): Promise<SoakResult> {
  const topic = uniqueName('soak');
  const groupId = uniqueName('g-soak');
  const key = `/maintenance/${uniqueName('bench-soak')}`;
  await createTopic(c, topic, PARTITIONS);
  await c.etcd.put(key).value('false');
  const probe = new Probe();
  const subject = make({ topic, groupId, key, memberId: uniqueName('member'), probe, workMs: WORK_MS });
  const cycles: CycleSample[] = [];
  let startedWhileStopped = 0;
  let produced = 0;
  try {
    await subject.start();
    await whenMembers(c, groupId, 1);
    const load = startLoad(c, topic);
    try {
      for (let i = 0; i < CYCLES; i++) {
        const before = probe.started;
        await probe.until(() => probe.started > before, 30_000, 'messages flowing');
        await sleep(HOLD_MS.running);
        const inFlightAtPut = probe.inFlight;
        const stopped = subject.whenStopped();
        const putAt = performance.now();
        await c.etcd.put(key).value('true');
        const drainMs = (await stopped) - putAt;
        const startedAtStop = probe.started;
        await sleep(HOLD_MS.maintenance);
        startedWhileStopped += probe.started - startedAtStop;
        const startedBeforeOff = probe.started;
        const resumed = probe.until(() => probe.started > startedBeforeOff, 60_000, 'resume');
        const offAt = performance.now();
        await c.etcd.put(key).value('false');
        const resumeMs = (await resumed) - offAt;
        await subject.whenRunning();
        cycles.push({ drainMs, resumeMs, inFlightAtPut });
        log(
          `  ${subject.label} cycle ${i + 1}: drain ${drainMs.toFixed(0)} ms (${inFlightAtPut} in flight), ` +
            `resume ${resumeMs.toFixed(0)} ms, duplicates so far ${probe.duplicates}`,
        );
      }
    } finally {
      produced = await load.stop();
    }
    // A subject that loses messages must still be reported (as missing), not abort the benchmark.
    await waitFor(() => probe.seen.size >= produced, {
      timeoutMs: 60_000,
      intervalMs: 50,
      message: `${produced} messages handled`,
    }).catch((err: unknown) => log(`  ${subject.label}: ${String(err)}`));
  } finally {
    await subject.close();
  }
  // Closed: kafkajs commits what it resolved while leaving, so compare the offsets only now.
  const fullyCommitted = await committedEqualsEnd(c, groupId, topic);
  return {
    subject: subject.label,
    cycles,
    drainMs: summarize(cycles.map((x) => x.drainMs)),
    resumeMs: summarize(cycles.map((x) => x.resumeMs)),
    produced,
    distinct: probe.seen.size,
    duplicates: probe.duplicates,
    missing: Math.max(0, produced - probe.seen.size),
    startedWhileStopped,
    fullyCommitted,
    loadAvg: loadAverage(),
  };
}

export const soak: Benchmark = {
  name: 'soak',
  title: 'Maintenance-cycle soak under load',
  async run(env: BenchEnv, log): Promise<BenchOutput> {
    const c = await benchClients(env);
    const results: SoakResult[] = [];
    try {
      for (const make of [
        (s: SubjectSetup) => new EngineSubject(env, s),
        (s: SubjectSetup) => new RawKafkajsSubject(env, c.etcd, s, 250),
      ]) {
        const r = await soakOne(c, make, log);
        log(
          `${r.subject}: drain ${formatSummary(r.drainMs)}; duplicates ${r.duplicates}, missing ${r.missing}`,
        );
        results.push(r);
      }
    } finally {
      await c.close();
    }
    const r = (x: number): string => `${Math.round(x)}`;
    return {
      params: {
        partitions: PARTITIONS,
        cycles: CYCLES,
        load: `${LOAD.perTick} messages every ${LOAD.tickMs} ms (~${Math.round((LOAD.perTick * 1000) / LOAD.tickMs)}/s)`,
        handlerWorkMs: WORK_MS,
        holdMs: HOLD_MS,
      },
      results: { subjects: results },
      summary: [
        `${CYCLES} maintenance cycles (${HOLD_MS.running} ms consuming, then ${HOLD_MS.maintenance} ms in ` +
          `maintenance) while ~${Math.round((LOAD.perTick * 1000) / LOAD.tickMs)} msg/s are produced to ` +
          `${PARTITIONS} partitions, handler ${WORK_MS} ms; then the backlog is consumed and the subject closed.`,
        '',
        '| subject | drain median / p95 (max) | resume median / p95 (max) | produced | duplicates | missing | started while stopped | committed = end |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
        ...results.map(
          (x) =>
            `| ${x.subject} | ${r(x.drainMs.median)} / ${r(x.drainMs.p95)} (${r(x.drainMs.max)}) ms | ` +
            `${r(x.resumeMs.median)} / ${r(x.resumeMs.p95)} (${r(x.resumeMs.max)}) ms | ${x.produced} | ` +
            `${x.duplicates} | ${x.missing} | ${x.startedWhileStopped} | ${x.fullyCommitted ? 'yes' : 'no'} |`,
        ),
      ],
    };
  },
};
