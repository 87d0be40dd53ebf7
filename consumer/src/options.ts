import { hostname } from 'node:os';
import { KmaintError } from '@kmaint/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { EngineOptions } from './engine/types.ts';
import type { MessageHandler } from './handler.ts';
import { GROUP_PROTOCOLS, KAFKA_ADAPTERS } from './kafka/client.ts';
import type { KafkaConnection } from './kafka/kafkajs.ts';
import { SASL_MECHANISMS, type KafkaSasl, type KafkaTls } from './kafka/security.ts';
import type { EtcdConnection } from './switch/etcd.ts';

/** Options of createConsumer; only `kafka`, `groupId`, `topics`, `handler` and `maintenance` are required. */
export interface ConsumerOptions {
  /**
   * Brokers to connect to (plus client id, session timing, `tls` and `sasl`), or a ready kafkajs `Kafka`
   * as `{ client }`.
   */
  kafka: KafkaConnection;
  groupId: string;
  topics: string[];
  /** Runs once per message (again on retry or redelivery); see MessageHandler. */
  handler: MessageHandler;
  maintenance: {
    /** etcd endpoints (and TLS files, credentials), or a ready etcd3 client as `{ client }` (left open). */
    etcd: EtcdConnection;
    /** The switch key the operator writes, e.g. /maintenance/orders. */
    key: string;
    /** While etcd cannot be read: keep the last known state (default), or enter maintenance. */
    whenUnavailable?: 'keep' | 'maintenance';
  };
  /** Messages handled at the same time across all partitions (default 5). */
  concurrency?: number;
  /** 'partition' (default): one message at a time per partition, in offset order; 'key': per key. */
  orderBy?: 'partition' | 'key';
  /** Failed attempts are retried with exponential backoff from `backoffMs` (defaults 3 and 100). */
  retry?: { maxRetries?: number; backoffMs?: number };
  /** Where a message goes after its last failed attempt: `<topic><topicSuffix>` (default '.dlq'). */
  deadLetter?: { topicSuffix?: string };
  /** How long a drain waits for in-flight messages before aborting them (default 45 000). */
  drainTimeoutMs?: number;
  /** One attempt's limit; its AbortSignal fires when it is reached (default 30 000). */
  maxProcessingTimeMs?: number;
  /**
   * When finished offsets are committed: after `everyMessages` finished messages of a batch (default 100)
   * and at the batch's end; with `intervalMs`, on that interval instead of by count. Only contiguous
   * finished offsets are ever committed.
   */
  commit?: { everyMessages?: number; intervalMs?: number };
  /** Where a group without committed offsets starts (default true: the oldest message). */
  fromBeginning?: boolean;
  /** This instance's id in the member reports under `<key>/members/` (default: the host name). */
  memberId?: string;
  /** The pod name shown in the member report, when running on Kubernetes. */
  pod?: string;
  /** A pino (or pino-compatible) logger; default: pino at info on stdout. */
  logger?: Logger;
  /** A prom-client registry to add the kmaint_* metrics to; default: a new one with process metrics. */
  registry?: Registry;
}

/** The engine's options from the consumer's, defaults filled in (the service's defaults). */
export function toEngineOptions(o: ConsumerOptions): EngineOptions {
  const k = o.kafka;
  const given = 'client' in k;
  return {
    kafka: {
      brokers: given ? [] : k.brokers,
      clientId: given ? '' : (k.clientId ?? o.groupId),
      topics: o.topics,
      groupId: o.groupId,
      batchSize: o.commit?.everyMessages ?? 100,
      sessionTimeoutMs: k.sessionTimeoutMs ?? 30_000,
      heartbeatIntervalMs: k.heartbeatIntervalMs ?? 3_000,
      offsetInitial: (o.fromBeginning ?? true) ? 'oldest' : 'newest',
      enableAutoCommit: o.commit?.intervalMs !== undefined,
      autoCommitIntervalMs: o.commit?.intervalMs ?? 5_000,
      ...(k.maxWaitTimeMs === undefined ? {} : { maxWaitTimeMs: k.maxWaitTimeMs }),
      ...(given ? { client: k.client } : {}),
      ...(given || k.tls === undefined ? {} : { tls: k.tls }),
      ...(given || k.sasl === undefined ? {} : { sasl: k.sasl }),
      ...(k.adapter === undefined ? {} : { adapter: k.adapter }),
      ...(k.groupProtocol === undefined ? {} : { groupProtocol: k.groupProtocol }),
      ...(k.groupInstanceId === undefined ? {} : { groupInstanceId: k.groupInstanceId }),
    },
    processing: {
      maxWorkers: o.concurrency ?? 5,
      maxProcessingTimeMs: o.maxProcessingTimeMs ?? 30_000,
      retryBackoffMs: o.retry?.backoffMs ?? 100,
      maxRetries: o.retry?.maxRetries ?? 3,
      dlqTopicSuffix: o.deadLetter?.topicSuffix ?? '.dlq',
      orderBy: o.orderBy ?? 'partition',
    },
    drainTimeoutMs: o.drainTimeoutMs ?? 45_000,
    etcd: o.maintenance.etcd,
    switchKey: o.maintenance.key,
    etcdUnavailable: o.maintenance.whenUnavailable ?? 'keep',
    memberId: o.memberId ?? hostname(),
    pod: o.pod ?? null,
  };
}

const invalid = (message: string): KmaintError => new KmaintError('INVALID_OPTIONS', message);

/** Throws KmaintError INVALID_OPTIONS naming the first bad option. */
export function validateOptions(o: ConsumerOptions): void {
  if (typeof o.handler !== 'function')
    throw invalid('handler must be a function (message, { signal }) => Promise');
  if (typeof o.groupId !== 'string' || o.groupId === '') throw invalid('groupId must be a non-empty string');
  if (
    !Array.isArray(o.topics) ||
    o.topics.length === 0 ||
    o.topics.some((t) => typeof t !== 'string' || t === '')
  ) {
    throw invalid('topics must be a non-empty list of topic names');
  }
  if (
    o.kafka === undefined ||
    (!('client' in o.kafka) && !(Array.isArray(o.kafka.brokers) && o.kafka.brokers.length > 0))
  ) {
    throw invalid(
      'kafka needs brokers (a non-empty list of host:port) or a ready kafkajs client as { client }',
    );
  }
  if (!('client' in o.kafka)) validateSecurity(o.kafka);
  const { adapter, groupProtocol, groupInstanceId } = o.kafka;
  if (adapter !== undefined && !KAFKA_ADAPTERS.includes(adapter)) {
    throw invalid(`kafka.adapter must be one of ${KAFKA_ADAPTERS.join(', ')}, got ${String(adapter)}`);
  }
  if (groupProtocol !== undefined && !GROUP_PROTOCOLS.includes(groupProtocol)) {
    throw invalid(
      `kafka.groupProtocol must be one of ${GROUP_PROTOCOLS.join(', ')}, got ${String(groupProtocol)}`,
    );
  }
  if (groupInstanceId !== undefined && (typeof groupInstanceId !== 'string' || groupInstanceId === '')) {
    throw invalid(
      'kafka.groupInstanceId must be a non-empty string (unique in the group, e.g. the pod name)',
    );
  }
  const m = o.maintenance;
  if (m === undefined || typeof m.key !== 'string' || !m.key.startsWith('/')) {
    throw invalid('maintenance.key must be the switch key, an absolute etcd key such as /maintenance/orders');
  }
  if (
    m.etcd === undefined ||
    (!('client' in m.etcd) && !(Array.isArray(m.etcd.endpoints) && m.etcd.endpoints.length > 0))
  ) {
    throw invalid(
      'maintenance.etcd needs endpoints (host:port or URLs) or a ready etcd3 client as { client }',
    );
  }
  positive('concurrency', o.concurrency, true);
  positive('commit.everyMessages', o.commit?.everyMessages, true);
  positive('commit.intervalMs', o.commit?.intervalMs, false);
  positive('drainTimeoutMs', o.drainTimeoutMs, false);
  positive('maxProcessingTimeMs', o.maxProcessingTimeMs, false);
  positive('retry.backoffMs', o.retry?.backoffMs, false);
  if (
    o.retry?.maxRetries !== undefined &&
    !(Number.isInteger(o.retry.maxRetries) && o.retry.maxRetries >= 0)
  ) {
    throw invalid(`retry.maxRetries must be an integer ≥ 0, got ${String(o.retry.maxRetries)}`);
  }
  if (o.orderBy !== undefined && o.orderBy !== 'partition' && o.orderBy !== 'key') {
    throw invalid(`orderBy must be 'partition' or 'key', got ${String(o.orderBy)}`);
  }
}

function validateSecurity(k: { tls?: KafkaTls; sasl?: KafkaSasl }): void {
  const { tls, sasl } = k;
  if (tls !== undefined && typeof tls !== 'boolean' && (typeof tls !== 'object' || tls === null)) {
    throw invalid('kafka.tls must be true, false or { caFile?, certFile?, keyFile? }');
  }
  if (typeof tls === 'object' && (tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw invalid('kafka.tls.certFile and kafka.tls.keyFile go together (a client certificate and its key)');
  }
  if (sasl === undefined) return;
  if (!SASL_MECHANISMS.includes(sasl.mechanism)) {
    throw invalid(
      `kafka.sasl.mechanism must be one of ${SASL_MECHANISMS.join(', ')}, got ${String(sasl.mechanism)}`,
    );
  }
  // The password is never part of a message.
  if (typeof sasl.username !== 'string' || sasl.username === '' || typeof sasl.password !== 'string') {
    throw invalid('kafka.sasl needs a non-empty username and a password');
  }
}

function positive(name: string, value: number | undefined, integer: boolean): void {
  if (value === undefined) return;
  if (!(value > 0) || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw invalid(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`);
  }
}
