import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { uniqueName } from '../../test/env/helpers.ts';
import type { BenchEnv } from '../lib/env.ts';
import { benchClients, createTopic, javaProduce, sumEndOffsets } from '../lib/kafka.ts';
import { loadAverage } from '../lib/machine.ts';
import { formatSummary, summarize, type Summary } from '../lib/stats.ts';
import type { Benchmark, BenchOutput } from '../lib/types.ts';
import { PLATFORMATIC_FETCH, WORKER_CLIENTS } from './clients.ts';
import type { WorkerInput, WorkerOutput } from './worker.ts';

const run = promisify(execFile);

const MESSAGES = 200_000;
const RECORD_BYTES = 100;
const PARTITIONS = 3;
const ROUNDS = 5;
const CLIENTS = [...WORKER_CLIENTS, 'java'] as const;
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
/** Each kmaint over its own client's raw ceiling should be at least this (within 10 %). */
const RATIO_GOAL = 0.9;

/** The version of @platformatic/kafka in use (its exports map hides package.json from require). */
function platformaticVersion(): string {
  const entry = createRequire(import.meta.url).resolve('@platformatic/kafka');
  const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

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
    const median = (client: Client): number => get(client).msgsPerSec.median;
    const withJoin = (client: Client): number => get(client).msgsPerSecWithJoin.median;
    const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
    const rss = (client: Client): number => get(client).maxRssMiB.median;
    const onKafkajs = ratio(median('kmaint'), median('kafkajs-batch'));
    const onPlatformatic = ratio(median('kmaint-platformatic'), median('platformatic'));
    const onKafkajsWithJoin = ratio(withJoin('kmaint'), withJoin('kafkajs-batch'));
    const onPlatformaticWithJoin = ratio(withJoin('kmaint-platformatic'), withJoin('platformatic'));
    const engines: Pair = [
      ['kmaint on kafkajs', 'kmaint'],
      ['kmaint on @platformatic/kafka', 'kmaint-platformatic'],
    ];
    const raws: Pair = [
      ['raw kafkajs eachBatch', 'kafkajs-batch'],
      ['raw @platformatic/kafka', 'platformatic'],
    ];
    for (const r of byClient) log(`${r.client}: ${formatSummary(r.msgsPerSec, 'msg/s')}`);
    const lines = [
      `${MESSAGES.toLocaleString('en')} messages of ${RECORD_BYTES} bytes on ${PARTITIONS} partitions, filled ` +
        `once by Kafka's ProducerPerformance and read from the start by a new group each run; ${ROUNDS} rounds, ` +
        `clients interleaved; kafkajs and @platformatic/kafka ${platformaticVersion()} against one broker. ` +
        `msg/s from first to last message (group join excluded; Java: fetch.nMsg.sec); peak RSS and CPU time ` +
        `of the consumer's own process.`,
      '',
      `**kmaint on kafkajs / raw kafkajs eachBatch: ${onKafkajs} (${onKafkajsWithJoin} with the join); kmaint ` +
        `on @platformatic/kafka / raw @platformatic/kafka: ${onPlatformatic} (${onPlatformaticWithJoin} with ` +
        `the join)** (the goal is ≥ ${RATIO_GOAL} for each: within 10 % of its own client). A consumer whose ` +
        `first fetch brings much of the topic decodes all of it before its first message: its first-to-last ` +
        `figure leaves that out, the one with the join does not.`,
      '',
      `First to last, ${faster(median, engines)} and ${faster(median, raws)}; from start to last ` +
        `(join included), ${faster(withJoin, engines)} and ${faster(withJoin, raws)}.`,
      '',
      `Also: kmaint / kafkajs eachMessage ${ratio(median('kmaint'), median('kafkajs'))}; peak RSS kmaint / ` +
        `eachMessage ${ratio(rss('kmaint'), rss('kafkajs'))} (the goal is ≤ 1.10), kmaint on ` +
        `@platformatic/kafka / raw @platformatic/kafka ${ratio(rss('kmaint-platformatic'), rss('platformatic'))}.`,
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
        'kmaint-platformatic':
          'the same defaults with KAFKA_CLIENT=platformatic (the @platformatic/kafka adapter)',
        kafkajs: 'consumer.run eachMessage no-op, autoCommit, partitionsConsumedConcurrently 3',
        'kafkajs-batch':
          'consumer.run eachBatch counting the batch, one resolve and commit per batch, concurrency 3',
        platformatic:
          `@platformatic/kafka ${platformaticVersion()} Consumer.consume (committed, else earliest; autocommit ` +
          `off; maxBytes ${mib(PLATFORMATIC_FETCH.maxBytes / 1024)} MiB, maxBytesPerPartition ` +
          `${mib(PLATFORMATIC_FETCH.maxBytesPerPartition / 1024)} MiB), its stream counted by 'data' events, the ` +
          'last message of each partition committed once per fetch',
        java: 'org.apache.kafka.tools.ConsumerPerformance, -Xmx256m, default consumer config',
      },
      results: {
        ratioVsEachBatch: onKafkajs,
        ratioPlatformaticVsRaw: onPlatformatic,
        ratioVsEachBatchWithJoin: onKafkajsWithJoin,
        ratioPlatformaticVsRawWithJoin: onPlatformaticWithJoin,
        ratioVsEachMessage: ratio(median('kmaint'), median('kafkajs')),
        rssRatioVsEachMessage: ratio(rss('kmaint'), rss('kafkajs')),
        rssRatioPlatformaticVsRaw: ratio(rss('kmaint-platformatic'), rss('platformatic')),
        byClient,
        samples,
      },
      summary: lines,
    };
  },
};

/** Two clients, each with the name a sentence gives it. */
type Pair = [[string, Client], [string, Client]];

/** "X is n % faster than Y" by the median `m` of each. */
function faster(m: (c: Client) => number, [a, b]: Pair): string {
  const [fast, slow] = m(a[1]) >= m(b[1]) ? [a, b] : [b, a];
  return `${fast[0]} is ${Math.round((m(fast[1]) / m(slow[1]) - 1) * 1000) / 10} % faster than ${slow[0]}`;
}

function label(client: Client): string {
  if (client === 'kmaint') return 'kmaint engine on kafkajs (defaults: commit every 100 msgs)';
  if (client === 'kmaint-autocommit') return 'kmaint engine on kafkajs, ENABLE_AUTO_COMMIT=true (every 5 s)';
  if (client === 'kmaint-platformatic')
    return 'kmaint engine on @platformatic/kafka (KAFKA_CLIENT=platformatic)';
  if (client === 'kafkajs') return 'raw kafkajs, eachMessage';
  if (client === 'kafkajs-batch') return 'raw kafkajs, eachBatch (commit per batch)';
  if (client === 'platformatic') return "raw @platformatic/kafka, 'data' events (commit per fetch)";
  return 'Java ConsumerPerformance';
}
