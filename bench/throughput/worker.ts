// One throughput run in a process of its own, so its RSS and CPU time are the consumer's alone:
// `node bench/throughput/worker.ts '<WorkerInput JSON>'`; prints one WorkerOutput JSON line.
import { Consumer, type Message } from '@platformatic/kafka';
import kafkajs from 'kafkajs';
import { benchEngine } from '../lib/engine.ts';
import { PLATFORMATIC_FETCH, type WORKER_CLIENTS } from './clients.ts';

const { Kafka, logLevel } = kafkajs;

export interface WorkerInput {
  /**
   * kmaint: the engine with the service defaults (on kafkajs); kmaint-autocommit: the same with
   * KAFKA_ENABLE_AUTO_COMMIT=true (commits every 5 s, not every 100); kmaint-platformatic: the defaults
   * with KAFKA_CLIENT=platformatic. kafkajs: eachMessage; kafkajs-batch: eachBatch that counts a batch and
   * commits once per batch; platformatic: a raw @platformatic/kafka stream read by its 'data' events.
   */
  client: (typeof WORKER_CLIENTS)[number];
  brokers: string[];
  etcdEndpoints: string[];
  topic: string;
  groupId: string;
  key: string;
  memberId: string;
  expected: number;
}

export interface WorkerOutput {
  /** start → first message handled: connecting and joining the group. */
  startToFirstMs: number;
  /** first → last message handled. */
  firstToLastMs: number;
  handled: number;
  /** RSS after imports, before connecting, and the process's peak RSS (KiB). */
  rssIdleKiB: number;
  maxRssKiB: number;
  /** CPU time (user + system) of the whole process, ms. */
  cpuMs: number;
}

const input = JSON.parse(process.argv[2] ?? '{}') as WorkerInput;
const rssIdleKiB = Math.round(process.memoryUsage().rss / 1024);
const done = Promise.withResolvers<undefined>();
let handled = 0;
let firstAt = 0;
let lastAt = 0;
const onMessage = (): void => {
  handled += 1;
  if (handled === 1) firstAt = performance.now();
  if (handled === input.expected) {
    lastAt = performance.now();
    done.resolve(undefined);
  }
};

/** Starts the client under test; resolves to how it stops. */
async function start(): Promise<() => Promise<void>> {
  switch (input.client) {
    case 'kmaint':
      return startKmaint({});
    case 'kmaint-autocommit':
      return startKmaint({ KAFKA_ENABLE_AUTO_COMMIT: 'true' });
    case 'kmaint-platformatic':
      return startKmaint({ KAFKA_CLIENT: 'platformatic' });
    case 'kafkajs':
    case 'kafkajs-batch':
      return startKafkajs(input.client === 'kafkajs-batch');
    case 'platformatic':
      return startPlatformatic();
  }
}

async function startKmaint(variables: Record<string, string>): Promise<() => Promise<void>> {
  const engine = benchEngine(input, {
    topic: input.topic,
    groupId: input.groupId,
    key: input.key,
    memberId: input.memberId,
    handler: async () => onMessage(),
    variables,
  });
  await engine.start();
  return () => engine.stop();
}

async function startKafkajs(batch: boolean): Promise<() => Promise<void>> {
  const kafka = new Kafka({ clientId: input.memberId, brokers: input.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: input.groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [input.topic], fromBeginning: true });
  if (!batch) {
    await consumer.run({
      autoCommit: true,
      partitionsConsumedConcurrently: 3,
      eachMessage: async () => onMessage(),
    });
    return () => consumer.disconnect();
  }
  // The ceiling for a Node consumer: no per-message work at all, one offset resolve and commit a batch.
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 3,
    eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary }) => {
      for (let i = 0; i < batch.messages.length; i++) onMessage();
      resolveOffset(batch.lastOffset());
      await commitOffsetsIfNecessary({
        topics: [
          {
            topic: batch.topic,
            partitions: [{ partition: batch.partition, offset: String(BigInt(batch.lastOffset()) + 1n) }],
          },
        ],
      });
    },
  });
  return () => consumer.disconnect();
}

/**
 * @platformatic/kafka's ceiling: its stream in flowing mode, counted by a 'data' listener (no async
 * iterator, which costs a promise per message), and one commit per partition per fetch, of the last
 * message the fetch before brought, as eachBatch commits once per batch.
 */
async function startPlatformatic(): Promise<() => Promise<void>> {
  const consumer = new Consumer({
    clientId: input.memberId,
    bootstrapBrokers: input.brokers,
    groupId: input.groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
  });
  const stream = await consumer.consume({
    topics: [input.topic],
    mode: 'committed',
    fallbackMode: 'earliest',
    autocommit: false,
    ...PLATFORMATIC_FETCH,
  });
  const last = new Map<number, Message>();
  stream.on('data', (m: Message) => {
    last.set(m.partition, m);
    onMessage();
  });
  // 'fetch' comes when a fetch answers, before its records are pushed: the last fetch's are all counted.
  // A failed commit is dropped: each run reads the topic once with a group of its own.
  stream.on('fetch', () => {
    for (const m of last.values()) void (m.commit() as Promise<void>).catch(() => undefined);
    last.clear();
  });
  stream.on('error', (err: Error) => done.reject(err));
  return async () => {
    await stream.close();
    await consumer.close(true);
  };
}

const startedAt = performance.now();
const stop = await start();
await done.promise;
const usage = process.resourceUsage();
const output: WorkerOutput = {
  startToFirstMs: firstAt - startedAt,
  firstToLastMs: lastAt - firstAt,
  handled,
  rssIdleKiB,
  maxRssKiB: usage.maxRSS,
  cpuMs: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1000),
};
await stop();
console.log(JSON.stringify(output));
process.exit(0);
