import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Etcd3 } from 'etcd3';
import kafkajs, { type Admin, type Producer } from 'kafkajs';
import { uniqueName, waitFor } from '../../test/env/helpers.ts';
import { createTopicsWithLeaders } from '../../test/env/kafka.ts';
import type { BenchEnv } from './env.ts';

const { Kafka, logLevel } = kafkajs;
const run = promisify(execFile);

/** The bench's own admin, producer and etcd clients (never the ones under test). */
export interface BenchClients {
  admin: Admin;
  producer: Producer;
  etcd: Etcd3;
  close(): Promise<void>;
}

export async function benchClients(env: BenchEnv): Promise<BenchClients> {
  const kafka = new Kafka({
    clientId: uniqueName('bench'),
    brokers: env.brokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await Promise.all([admin.connect(), producer.connect()]);
  const etcd = new Etcd3({ hosts: env.etcdEndpoints });
  return {
    admin,
    producer,
    etcd,
    async close() {
      await Promise.all([admin.disconnect(), producer.disconnect()]);
      etcd.close();
    },
  };
}

export async function createTopic(c: BenchClients, topic: string, partitions: number): Promise<void> {
  await createTopicsWithLeaders(c.admin, [{ topic, numPartitions: partitions }]);
}

/** Produces `count` messages "<prefix>-<i>" round-robin over the partitions. */
export async function produce(
  c: BenchClients,
  topic: string,
  count: number,
  partitions: number,
  prefix: string,
): Promise<void> {
  const chunk = 1_000;
  for (let start = 0; start < count; start += chunk) {
    const messages = [];
    for (let i = start; i < Math.min(count, start + chunk); i++)
      messages.push({ value: `${prefix}-${i}`, partition: i % partitions });
    await c.producer.send({ topic, messages });
  }
}

/** Members the broker lists for the group right now. */
export async function memberCount(c: BenchClients, groupId: string): Promise<number> {
  const { groups } = await c.admin.describeGroups([groupId]);
  return groups[0]?.members.length ?? 0;
}

/**
 * Polls describeGroups as fast as the broker answers (5 ms apart) until the group has `count` members;
 * returns performance.now() of the answer that showed it, so the resolution is one round trip.
 */
export function whenMembers(
  c: BenchClients,
  groupId: string,
  count: number,
  timeoutMs = 30_000,
): Promise<number> {
  return waitFor(async () => ((await memberCount(c, groupId)) === count ? performance.now() : 0), {
    intervalMs: 5,
    timeoutMs,
    message: `group ${groupId} to have ${count} member(s)`,
  });
}

export function sumEndOffsets(offsets: { high: string }[]): number {
  return offsets.reduce((s, p) => s + Number(p.high), 0);
}

/**
 * Fills a topic with Kafka's own ProducerPerformance (much faster than kafkajs, and not what is being
 * measured): `count` records of `size` random bytes, no keys.
 */
export async function javaProduce(
  env: BenchEnv,
  topic: string,
  count: number,
  size: number,
): Promise<{ durationMs: number; summary: string }> {
  const started = performance.now();
  const { stdout } = await run(
    'java',
    [
      '-Xmx256m',
      '-cp',
      join(env.kafkaLibs, '*'),
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      topic,
      '--num-records',
      String(count),
      '--record-size',
      String(size),
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${env.brokers.join(',')}`,
      'acks=1',
      'linger.ms=5',
    ],
    { maxBuffer: 16 * 1024 * 1024 },
  );
  return { durationMs: performance.now() - started, summary: stdout.trim().split('\n').pop() ?? '' };
}
