import { encodeSwitchValue, type SwitchValue } from '@kmaint/common';
import { Connection, consumerGroupDescribeV0 } from '@platformatic/kafka';
import { Etcd3 } from 'etcd3';
import kafkajs, { type Admin, type Producer } from 'kafkajs';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import { createEngine, type Engine, type EngineOptions } from '../../../src/engine/index.ts';
import {
  GROUP_PROTOCOLS,
  KAFKA_ADAPTERS,
  type GroupProtocol,
  type KafkaAdapter,
} from '../../../src/kafka/client.ts';
import type { ConsumedMessage, MessageHandler } from '../../../src/handler.ts';
import { envConfig } from '../../../../test/env/config.ts';
import { uniqueName, waitFor } from '../../../../test/env/helpers.ts';
import { createTopicsWithLeaders } from '../../../../test/env/kafka.ts';

export { uniqueName, waitFor };

const { Kafka, logLevel } = kafkajs;

export const brokers = (): string[] => [inject('kafkaBrokers')];
export const etcdEndpoints = (): string[] => [inject('etcdEndpoints')];

/** The client the engine runs on in this suite (test/env's KMAINT_KAFKA_CLIENT): each is held to the same tests. */
export function kafkaAdapter(): KafkaAdapter {
  const name = envConfig.kafkaClient;
  const adapter = KAFKA_ADAPTERS.find((a) => a === name);
  if (adapter === undefined)
    throw new Error(`KMAINT_KAFKA_CLIENT must be one of ${KAFKA_ADAPTERS.join(', ')}, got ${name}`);
  return adapter;
}

/**
 * The group protocol the engine joins with in this suite (test/env's KMAINT_KAFKA_GROUP_PROTOCOL): the
 * same tests hold for a KIP-848 group. kafkajs with 'consumer' is refused when the engine is built.
 */
export function groupProtocol(): GroupProtocol {
  const name = envConfig.kafkaGroupProtocol;
  const protocol = GROUP_PROTOCOLS.find((p) => p === name);
  if (protocol === undefined)
    throw new Error(`KMAINT_KAFKA_GROUP_PROTOCOL must be one of ${GROUP_PROTOCOLS.join(', ')}, got ${name}`);
  return protocol;
}

export function testLogger(): Logger {
  return pino({ level: process.env.KMAINT_TEST_LOG ?? 'error' });
}

/** Shared admin, producer and etcd clients of a test file. */
export interface Tools {
  admin: Admin;
  producer: Producer;
  etcd: Etcd3;
  close(): Promise<void>;
}

export async function tools(): Promise<Tools> {
  const kafka = new Kafka({
    clientId: uniqueName('test-tools'),
    brokers: brokers(),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  // Idempotent: under load a produce request can time out and be retried, and a plain producer then
  // writes the batch twice, which a test counting distinct offsets would take for the engine's doing.
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await Promise.all([admin.connect(), producer.connect()]);
  const etcd = new Etcd3({ hosts: etcdEndpoints() });
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

/** Tools for one test file: connected before its tests, closed after them. */
export function useTools(): Tools {
  const shared = {} as Tools;
  beforeAll(async () => {
    Object.assign(shared, await tools());
  });
  afterAll(async () => {
    await shared.close();
  });
  return shared;
}

/** One test's own topic, group and switch key, and an engine on them that records what it handles. */
export async function scenario(
  t: Tools,
  name: string,
  partitions: number,
): Promise<{ topic: string; groupId: string; key: string; rec: Recorder; engine: Engine }> {
  const topic = uniqueName(name);
  const groupId = uniqueName(`g-${name}`);
  const key = `/maintenance/${uniqueName('svc')}`;
  await createTopic(t, topic, partitions);
  const rec = new Recorder();
  return { topic, groupId, key, rec, engine: makeEngine({ topic, groupId, key, handler: rec.handler() }) };
}

export async function createTopic(t: Tools, topic: string, partitions: number): Promise<void> {
  await createTopicsWithLeaders(t.admin, [{ topic, numPartitions: partitions }]);
}

/** Produces `count` messages with values "<prefix>-<i>", round-robin over partitions, in chunks. */
export async function produce(
  t: Tools,
  topic: string,
  count: number,
  options: { prefix?: string; partitions?: number; key?: (i: number) => string } = {},
): Promise<void> {
  const { prefix = 'm', partitions = 1 } = options;
  const chunk = 500;
  for (let start = 0; start < count; start += chunk) {
    const messages = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) {
      messages.push({
        key: options.key?.(i) ?? null,
        value: `${prefix}-${i}`,
        partition: options.key ? undefined : i % partitions,
      });
    }
    await t.producer.send({ topic, messages });
  }
}

/** Writes the switch, retrying while the test's own etcd client reconnects after a restart. */
export async function setSwitch(t: Tools, key: string, value: string | SwitchValue): Promise<void> {
  const raw = typeof value === 'string' ? value : encodeSwitchValue(value);
  await waitFor(
    async () => {
      await t.etcd.put(key).value(raw);
      return true;
    },
    { message: `etcd put ${key}=${raw}` },
  );
}

/** Committed offsets of a group (partition → offset, -1 when none). */
export async function committed(t: Tools, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [res] = await t.admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((res?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
}

export async function endOffsets(t: Tools, topic: string): Promise<Map<number, bigint>> {
  const res = await t.admin.fetchTopicOffsets(topic);
  return new Map(res.map((p) => [p.partition, BigInt(p.high)]));
}

/** True once every partition's committed offset equals its end offset. */
export async function fullyCommitted(t: Tools, groupId: string, topic: string): Promise<boolean> {
  const [c, e] = await Promise.all([committed(t, groupId, topic), endOffsets(t, topic)]);
  return [...e].every(([p, end]) => c.get(p) === end);
}

export async function groupMembers(
  t: Tools,
  groupId: string,
): Promise<{ state: string; clientIds: string[] }> {
  if (groupProtocol() === 'consumer') return consumerGroupMembers(groupId);
  const { groups } = await t.admin.describeGroups([groupId]);
  const g = groups[0];
  return { state: g?.state ?? 'Unknown', clientIds: (g?.members ?? []).map((m) => m.clientId) };
}

/**
 * A KIP-848 group is not a classic one, and DescribeGroups does not describe it: ConsumerGroupDescribe
 * does, asked of the one broker (the coordinator of every group here). Its states are those of the new
 * protocol (Empty, Assigning, Reconciling, Stable).
 */
const GROUP_ID_NOT_FOUND = 69;

async function consumerGroupMembers(groupId: string): Promise<{ state: string; clientIds: string[] }> {
  const [host, port] = (brokers()[0] as string).split(':');
  const connection = new Connection(uniqueName('describe'));
  try {
    await connection.connect(host as string, Number(port));
    const { groups } = await consumerGroupDescribeV0.api
      .async(connection, [groupId], false)
      .catch((err: unknown) => {
        // A group that does not exist (yet) is an error of the response, where DescribeGroups says Dead.
        const response = (err as { response?: { groups?: { errorCode: number }[] } }).response;
        if (response?.groups?.[0]?.errorCode === GROUP_ID_NOT_FOUND) return { groups: [] };
        throw err;
      });
    const g = groups[0];
    if (g === undefined) return { state: 'Dead', clientIds: [] };
    return { state: g.groupState, clientIds: g.members.map((m) => m.clientId) };
  } finally {
    await connection.close();
  }
}

/** Records every processed message: how often each (partition, offset) was seen. */
export class Recorder {
  readonly seen = new Map<string, number>();
  readonly values = new Map<string, number>();
  processedTotal = 0;

  record(m: ConsumedMessage): void {
    const k = `${m.topic}/${m.partition}/${m.offset}`;
    this.seen.set(k, (this.seen.get(k) ?? 0) + 1);
    const v = m.value?.toString() ?? '';
    this.values.set(v, (this.values.get(v) ?? 0) + 1);
    this.processedTotal += 1;
  }

  /** Per partition of `topic`: the first offset never processed (all below it were). */
  firstGap(topic: string, partitions: number): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (let p = 0; p < partitions; p++) {
      let o = 0n;
      while (this.seen.has(`${topic}/${p}/${o}`)) o += 1n;
      out.set(p, o);
    }
    return out;
  }

  /** Per partition of `topic`: one past the highest offset processed. */
  highest(topic: string, partitions: number): Map<number, bigint> {
    const out = new Map<number, bigint>();
    for (let p = 0; p < partitions; p++) out.set(p, 0n);
    for (const k of this.seen.keys()) {
      const [t, p, o] = k.split('/');
      if (t !== topic) continue;
      const next = BigInt(o as string) + 1n;
      if (next > (out.get(Number(p)) ?? 0n)) out.set(Number(p), next);
    }
    return out;
  }

  get distinct(): number {
    return this.seen.size;
  }

  get duplicates(): number {
    return this.processedTotal - this.seen.size;
  }

  /** A handler that records after its (optional) work, honouring the abort signal. */
  handler(
    work: (m: ConsumedMessage, signal: AbortSignal) => Promise<void> = async () => undefined,
  ): MessageHandler {
    return async (m, { signal }) => {
      await work(m, signal);
      signal.throwIfAborted();
      this.record(m);
    };
  }
}

export interface EngineSetup {
  topic: string;
  groupId: string;
  key: string;
  memberId?: string;
  handler: MessageHandler;
  overrides?: Partial<Omit<EngineOptions, 'kafka' | 'processing'>> & {
    kafka?: Partial<EngineOptions['kafka']>;
    processing?: Partial<EngineOptions['processing']>;
  };
}

export function makeEngine(s: EngineSetup): Engine {
  const o = s.overrides ?? {};
  const options: EngineOptions = {
    kafka: {
      brokers: brokers(),
      clientId: s.memberId ?? uniqueName('engine'),
      topics: [s.topic],
      groupId: s.groupId,
      batchSize: 100,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1_000,
      offsetInitial: 'oldest',
      enableAutoCommit: false,
      autoCommitIntervalMs: 5_000,
      adapter: kafkaAdapter(),
      groupProtocol: groupProtocol(),
      ...o.kafka,
    },
    processing: {
      maxWorkers: 5,
      maxProcessingTimeMs: 30_000,
      retryBackoffMs: 20,
      maxRetries: 3,
      dlqTopicSuffix: '.dlq',
      ...o.processing,
    },
    drainTimeoutMs: o.drainTimeoutMs ?? 30_000,
    etcd: { endpoints: etcdEndpoints(), ...o.etcd },
    switchKey: s.key,
    etcdUnavailable: o.etcdUnavailable ?? 'keep',
    memberId: s.memberId ?? uniqueName('member'),
    pod: null,
  };
  return createEngine(options, { logger: testLogger(), handler: s.handler });
}

export const stateIs = (engine: Engine, state: string) => (): boolean => engine.snapshot().state === state;

/**
 * Waits until `rec` saw `total` distinct messages; on time-out the error tells where things stand (each
 * engine's state and counters, the group's committed and end offsets), since that is what a person needs.
 */
export async function waitForAll(
  t: Tools,
  rec: Recorder,
  total: number,
  where: { topic: string; groupId: string; engines: Engine[]; timeoutMs?: number },
): Promise<void> {
  try {
    await waitFor(() => rec.distinct === total, {
      timeoutMs: where.timeoutMs ?? 120_000,
      message: `all ${total} processed`,
    });
  } catch (err) {
    const [c, e] = await Promise.all([committed(t, where.groupId, where.topic), endOffsets(t, where.topic)]);
    const engines = where.engines.map((x) => ({ ...x.snapshot(), counters: x.counters() }));
    throw new Error(
      `${(err as Error).message}; distinct ${rec.distinct}, committed ${JSON.stringify([...c].map(String))}, ` +
        `end ${JSON.stringify([...e].map(String))}, engines ${JSON.stringify(engines)}`,
    );
  }
}
