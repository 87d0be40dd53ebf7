// One throughput run in a process of its own, so its RSS and CPU time are the consumer's alone:
// `node bench/throughput/worker.ts '<WorkerInput JSON>'`; prints one WorkerOutput JSON line.
import kafkajs from 'kafkajs';
import { benchEngine } from '../lib/engine.ts';

const { Kafka, logLevel } = kafkajs;

export interface WorkerInput {
  /** kmaint-autocommit: the engine with ENABLE_AUTO_COMMIT=true (commits every 5 s, not every 100). */
  /** kafkajs: eachMessage; kafkajs-batch: eachBatch that counts a batch and commits once per batch. */
  client: 'kmaint' | 'kmaint-autocommit' | 'kafkajs' | 'kafkajs-batch';
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

const startedAt = performance.now();
let stop: () => Promise<void>;
if (input.client === 'kmaint' || input.client === 'kmaint-autocommit') {
  const engine = benchEngine(input, {
    topic: input.topic,
    groupId: input.groupId,
    key: input.key,
    memberId: input.memberId,
    handler: async () => onMessage(),
    variables: { KAFKA_ENABLE_AUTO_COMMIT: String(input.client === 'kmaint-autocommit') },
  });
  await engine.start();
  stop = () => engine.stop();
} else {
  const kafka = new Kafka({ clientId: input.memberId, brokers: input.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: input.groupId,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [input.topic], fromBeginning: true });
  if (input.client === 'kafkajs') {
    await consumer.run({
      autoCommit: true,
      partitionsConsumedConcurrently: 3,
      eachMessage: async () => onMessage(),
    });
  } else {
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
  }
  stop = () => consumer.disconnect();
}
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
