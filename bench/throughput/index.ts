import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { uniqueName } from '../../test/env/helpers.ts';
import type { BenchEnv } from '../lib/env.ts';
import { benchClients, createTopic, javaProduce, sumEndOffsets } from '../lib/kafka.ts';
import { loadAverage } from '../lib/machine.ts';
import { formatSummary, summarize, type Summary } from '../lib/stats.ts';
import type { Benchmark, BenchOutput } from '../lib/types.ts';
import type { WorkerInput, WorkerOutput } from './worker.ts';

const run = promisify(execFile);

const MESSAGES = 200_000;
const RECORD_BYTES = 100;
const PARTITIONS = 3;
const ROUNDS = 5;
const CLIENTS = ['kmaint', 'kmaint-autocommit', 'kafkajs', 'kafkajs-batch', 'java'] as const;
type Client = (typeof CLIENTS)[number];

interface RunSample {
  client: Client;
  round: number;
  /** Messages per second from the first to the last message (the group join excluded). */
  msgsPerSec: number;
  /** Messages per second from process start to the last message (join included). */
  msgsPerSecWithJoin: number;
  joinMs: number;
  maxRssMiB: number;
  /** CPU time of the consumer process per 1,000 messages, ms. */
  cpuMsPer1k: number;
  loadAvg1: number;
}

const worker = fileURLToPath(new URL('./worker.ts', import.meta.url));
const mib = (kib: number): number => Math.round((kib / 1024) * 10) / 10;

async function nodeRun(env: BenchEnv, client: Exclude<Client, 'java'>, topic: string): Promise<WorkerOutput> {
  const input: WorkerInput = {
    client,
    brokers: env.brokers,
    etcdEndpoints: env.etcdEndpoints,
    topic,
    groupId: uniqueName(`g-tp-${client}`),
    key: `/maintenance/${uniqueName('bench-tp')}`,
    memberId: uniqueName('tp'),
    expected: MESSAGES,
  };
  // The worker resolves @kmaint/consumer as this process does (from source, by the same conditions).
  const { stdout } = await run(process.execPath, [...process.execArgv, worker, JSON.stringify(input)], {
    timeout: 180_000,
    maxBuffer: 4 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as WorkerOutput;
}

/**
 * Kafka's own ConsumerPerformance, under /usr/bin/time for its peak RSS and CPU time. Its fetch.nMsg.sec
 * leaves out the group join, like the node figure from first to last message.
 */
async function javaRun(env: BenchEnv, topic: string): Promise<WorkerOutput> {
  const { stdout, stderr } = await run(
    '/usr/bin/time',
    [
      '-f',
      'kmaint-time %M %U %S',
      'java',
      '-Xmx256m',
      '-cp',
      join(env.kafkaLibs, '*'),
      'org.apache.kafka.tools.ConsumerPerformance',
      '--bootstrap-server',
      env.brokers.join(','),
      '--topic',
      topic,
      '--messages',
      String(MESSAGES),
      '--group',
      uniqueName('g-tp-java'),
      '--timeout',
      '120000',
    ],
    { timeout: 180_000, maxBuffer: 4 * 1024 * 1024 },
  );
  const lines = stdout.trim().split('\n');
  const header = lines.findIndex((l) => l.startsWith('start.time'));
  const names = (lines[header] ?? '').split(',').map((s) => s.trim());
  const values = (lines[header + 1] ?? '').split(',').map((s) => s.trim());
  const field = (name: string): number => {
    const v = Number(values[names.indexOf(name)]);
    if (!Number.isFinite(v)) throw new Error(`ConsumerPerformance gave no ${name}: ${stdout}`);
    return v;
  };
  const time = /kmaint-time (\d+) ([\d.]+) ([\d.]+)/.exec(stderr);
  if (time === null) throw new Error(`no /usr/bin/time line in: ${stderr.slice(-500)}`);
  return {
    startToFirstMs: field('rebalance.time.ms'),
    firstToLastMs: field('fetch.time.ms'),
    handled: field('data.consumed.in.nMsg'),
    rssIdleKiB: 0,
    maxRssKiB: Number(time[1]),
    cpuMs: Math.round((Number(time[2]) + Number(time[3])) * 1000),
  };
}

function toSample(client: Client, round: number, out: WorkerOutput): RunSample {
  if (out.handled < MESSAGES) throw new Error(`${client} handled ${out.handled} of ${MESSAGES}`);
  return {
    client,
    round,
    msgsPerSec: Math.round(MESSAGES / (out.firstToLastMs / 1000)),
    msgsPerSecWithJoin: Math.round(MESSAGES / ((out.startToFirstMs + out.firstToLastMs) / 1000)),
    joinMs: Math.round(out.startToFirstMs),
    maxRssMiB: mib(out.maxRssKiB),
    cpuMsPer1k: Math.round((out.cpuMs / MESSAGES) * 1000 * 100) / 100,
    loadAvg1: loadAverage()[0] ?? 0,
  };
}

interface ClientResult {
  client: Client;
  msgsPerSec: Summary;
  msgsPerSecWithJoin: Summary;
  maxRssMiB: Summary;
  cpuMsPer1k: Summary;
}

export const throughput: Benchmark = {
  name: 'throughput',
  title: 'Consumer throughput (no-op handler)',
  async run(env: BenchEnv, log): Promise<BenchOutput> {
    const c = await benchClients(env);
    const topic = uniqueName('throughput');
    let fill: { durationMs: number; summary: string };
    try {
      await createTopic(c, topic, PARTITIONS);
      fill = await javaProduce(env, topic, MESSAGES, RECORD_BYTES);
      const inTopic = sumEndOffsets(await c.admin.fetchTopicOffsets(topic));
      if (inTopic !== MESSAGES) throw new Error(`topic holds ${inTopic} messages, not ${MESSAGES}`);
      log(`filled ${topic} in ${(fill.durationMs / 1000).toFixed(1)} s: ${fill.summary}`);
    } finally {
      await c.close();
    }
    const samples: RunSample[] = [];
    // Rounds interleave the clients, so a burst of load from elsewhere hits them alike.
    for (let round = 1; round <= ROUNDS; round++) {
      for (const client of CLIENTS) {
        const out = client === 'java' ? await javaRun(env, topic) : await nodeRun(env, client, topic);
        const s = toSample(client, round, out);
        samples.push(s);
        log(
          `  ${client} #${round}: ${s.msgsPerSec} msg/s (${s.msgsPerSecWithJoin} with a ${s.joinMs} ms join), ` +
            `peak RSS ${s.maxRssMiB} MiB, CPU ${s.cpuMsPer1k} ms/1k msgs, load ${s.loadAvg1}`,
        );
      }
    }
    const byClient: ClientResult[] = CLIENTS.map((client) => {
      const mine = samples.filter((s) => s.client === client);
      const pick = (f: (s: RunSample) => number): Summary => summarize(mine.map(f));
      return {
        client,
        msgsPerSec: pick((s) => s.msgsPerSec),
        msgsPerSecWithJoin: pick((s) => s.msgsPerSecWithJoin),
        maxRssMiB: pick((s) => s.maxRssMiB),
        cpuMsPer1k: pick((s) => s.cpuMsPer1k),
      };
    });
    const get = (client: Client): ClientResult => byClient.find((r) => r.client === client) as ClientResult;
    const kmaint = get('kmaint').msgsPerSec.median;
    const raw = get('kafkajs').msgsPerSec.median;
    const batch = get('kafkajs-batch').msgsPerSec.median;
    const overheadPct = Math.round((1 - kmaint / raw) * 1000) / 10;
    const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
    const rss = (client: Client): number => get(client).maxRssMiB.median;
    for (const r of byClient) log(`${r.client}: ${formatSummary(r.msgsPerSec, 'msg/s')}`);
    const lines = [
      `${MESSAGES.toLocaleString('en')} messages of ${RECORD_BYTES} bytes on ${PARTITIONS} partitions, filled ` +
        `once by Kafka's ProducerPerformance and read from the start by a new group each run; ${ROUNDS} rounds, ` +
        `clients interleaved. msg/s from first to last message (group join excluded; Java: fetch.nMsg.sec); ` +
        `peak RSS and CPU time of the consumer's own process.`,
      '',
      `**kmaint's throughput is ${overheadPct >= 0 ? `${overheadPct}% below` : `${-overheadPct}% above`} raw ` +
        `kafkajs** (medians ${kmaint} vs ${raw} msg/s).`,
      '',
      `Ratios of the medians: kmaint / kafkajs eachBatch ${ratio(kmaint, batch)} (the goal is ≥ 0.75), ` +
        `kmaint / kafkajs eachMessage ${ratio(kmaint, raw)}; peak RSS kmaint / eachMessage ` +
        `${ratio(rss('kmaint'), rss('kafkajs'))} (the goal is ≤ 1.10).`,
      '',
      '| client | msg/s median / p95 (min–max) | MB/s of values, median | with join, median | peak RSS median (max) | CPU ms per 1k msgs, median |',
      '| --- | --- | --- | --- | --- | --- |',
      ...byClient.map(
        (r) =>
          `| ${label(r.client)} | ${r.msgsPerSec.median} / ${r.msgsPerSec.p95} (${r.msgsPerSec.min}–${r.msgsPerSec.max}) | ` +
          `${((r.msgsPerSec.median * RECORD_BYTES) / 1e6).toFixed(1)} | ` +
          `${r.msgsPerSecWithJoin.median} | ${r.maxRssMiB.median} MiB (${r.maxRssMiB.max}) | ${r.cpuMsPer1k.median} |`,
      ),
    ];
    return {
      params: {
        messages: MESSAGES,
        recordBytes: RECORD_BYTES,
        partitions: PARTITIONS,
        rounds: ROUNDS,
        fill: fill.summary,
        kmaint: 'engine with the service defaults (5 workers, batch 100, manual commits), no-op handler',
        'kmaint-autocommit': 'the same with enableAutoCommit (commit every autoCommitInterval, 5 s)',
        kafkajs: 'consumer.run eachMessage no-op, autoCommit, partitionsConsumedConcurrently 3',
        'kafkajs-batch':
          'consumer.run eachBatch counting the batch, one resolve and commit per batch, concurrency 3',
        java: 'org.apache.kafka.tools.ConsumerPerformance, -Xmx256m, default consumer config',
      },
      results: {
        overheadVsKafkajsPct: overheadPct,
        ratioVsEachBatch: ratio(kmaint, batch),
        ratioVsEachMessage: ratio(kmaint, raw),
        rssRatioVsEachMessage: ratio(rss('kmaint'), rss('kafkajs')),
        byClient,
        samples,
      },
      summary: lines,
    };
  },
};

function label(client: Client): string {
  if (client === 'kmaint') return 'kmaint engine (defaults: commit every 100 msgs)';
  if (client === 'kmaint-autocommit') return 'kmaint engine, ENABLE_AUTO_COMMIT=true (every 5 s)';
  if (client === 'kafkajs') return 'raw kafkajs, eachMessage';
  if (client === 'kafkajs-batch') return 'raw kafkajs, eachBatch (commit per batch)';
  return 'Java ConsumerPerformance';
}
