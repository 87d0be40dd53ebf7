import type { EventEmitter } from 'node:events';
import type { MaintenanceMode, MemberReport } from '@kmaint/common';
import type { SwitchCallbacks } from '@kmaint/common/etcd';
import type { EngineEvents } from '../core/events.ts';
import type { TopicTotals } from '../core/stats.ts';
import type { ComponentHealth, Desired, DrainResult, EngineState, RecordedError } from '../core/types.ts';
import type { GroupProtocol, KafkaAdapter, SentMessage, TopicInfo } from '../kafka/client.ts';
import type { KafkajsInstance } from '../kafka/kafkajs.ts';
import type { KafkaSasl, KafkaTls } from '../kafka/security.ts';
import type { EtcdConnection } from '../switch/etcd.ts';

/** Everything the engine needs, filled from configuration (durations already in milliseconds). */
export interface EngineOptions {
  kafka: {
    brokers: string[];
    clientId: string;
    topics: string[];
    groupId: string;
    batchSize: number;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    offsetInitial: 'oldest' | 'newest';
    enableAutoCommit: boolean;
    autoCommitIntervalMs: number;
    /** Fetch long-poll; a drain waits it out once, so keep it short (default 250). */
    maxWaitTimeMs?: number;
    /** A ready kafkajs client to use instead of one made from `brokers` and `clientId`. */
    client?: KafkajsInstance;
    /** TLS and SASL of a client made from `brokers`. */
    tls?: KafkaTls;
    sasl?: KafkaSasl;
    /** The client library (default kafkajs); options.ts has refused what the chosen one cannot do. */
    adapter?: KafkaAdapter;
    groupProtocol?: GroupProtocol;
    groupInstanceId?: string;
  };
  processing: {
    maxWorkers: number;
    maxProcessingTimeMs: number;
    retryBackoffMs: number;
    maxRetries: number;
    dlqTopicSuffix: string;
    /** 'partition' (default): one message at a time per partition; 'key': per key within a partition. */
    orderBy?: 'partition' | 'key';
  };
  drainTimeoutMs: number;
  /** etcd endpoints and TLS settings, or a ready client (left open). */
  etcd: EtcdConnection;
  /** The switch key, e.g. /maintenance/kafka-service. */
  switchKey: string;
  /** What to do while etcd cannot be reached: keep the last known state, or enter maintenance. */
  etcdUnavailable: 'keep' | 'maintenance';
  /** This instance's id under <switchKey>/members/ (MEMBER_ID, POD_NAME or host name). */
  memberId: string;
  pod: string | null;
}

/** Where the engine learns what the maintenance switch asks for. */
export interface SwitchSource {
  /**
   * Reads the switch once (resolves after that first attempt, even a failed one: etcd may be down), then
   * follows it. Rejects when etcd refuses this client (TLS, credentials): retrying cannot help then.
   */
  start(on: SwitchCallbacks): Promise<void>;
  close(): Promise<void>;
}

/** Where the engine publishes its member report (for the operator and for people watching a window). */
export interface MemberReportSink {
  update(report: MemberReport): void;
  /** Removes the report. */
  close(): Promise<void>;
}

/** The engine's state as /health and /readyz show it. */
export interface EngineSnapshot {
  state: EngineState;
  /** What the switch asks for; differs from `state` while a transition is under way. */
  desired: Desired;
  /** Mode of the current (or last) maintenance; null before the first one. */
  mode: MaintenanceMode | null;
  reason: string | null;
  window: string | null;
  /** ISO time of the last transition (or of start). */
  since: string;
  inFlight: number;
  lastDrain: DrainResult | null;
  /** ISO time the last drain finished; null until one has. */
  drainedAt: string | null;
  components: { kafka: ComponentHealth; etcd: ComponentHealth };
  /** The last switch value that could not be parsed, with why and when; null if none since start. */
  invalidSwitch: { raw: string; error: string; at: string } | null;
  topics: string[];
  /** True once shutdown() has finished: nothing is consumed any more. */
  stopped: boolean;
}

export interface PartitionStats {
  topic: string;
  partition: number;
  /** The group's committed offset (next to consume); null if the group never committed one. */
  committedOffset: string | null;
  /** The partition's log end offset (high watermark). */
  endOffset: string;
  /** endOffset − committedOffset (from the earliest offset when nothing is committed). */
  lag: number;
}

/** Counters since start, as /messages/stats shows them. */
export interface EngineCounters {
  received: number;
  processed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  inFlight: number;
  commits: number;
  rebalances: number;
  /** The last 10 errors, oldest first, with ISO timestamps. */
  errors: RecordedError[];
}

/** Counters plus per-partition offsets and lag read from Kafka. */
export interface EngineStats extends EngineCounters {
  partitions: PartitionStats[];
}

/** The drain engine: one owner of state, driven by the etcd switch and by shutdown(). */
export interface Engine {
  /** Typed events for metrics and logs. */
  readonly events: EventEmitter<EngineEvents>;
  /** Reads the switch, connects, and joins the group unless the switch says maintenance. */
  start(): Promise<void>;
  /** Drains exactly as maintenance (mode drain), commits, leaves the group, closes etcd and Kafka. */
  shutdown(options?: { timeoutMs?: number }): Promise<void>;
  snapshot(): EngineSnapshot;
  /** Counters without any I/O (for metrics scrapes). */
  counters(): EngineCounters;
  /** Per-topic message outcomes and handler times since start (for metrics scrapes). */
  messageTotals(): ReadonlyMap<string, Readonly<TopicTotals>>;
  /** Counters plus per-partition committed offset, end offset and lag (asks Kafka). */
  stats(): Promise<EngineStats>;
  /** Produces one message; resolves with where it landed. */
  send(topic: string, message: string, key?: string, headers?: Record<string, string>): Promise<SentMessage>;
  /** Metadata and earliest/latest offsets of the configured topics. */
  topicsInfo(): Promise<TopicInfo[]>;
}
