import type { KafkaSasl, KafkaTls } from './security.ts';
import { KmaintError } from '@kmaint/common';
import type { ConsumedMessage } from '../handler.ts';

/** Where a produced message landed. */
export interface SentMessage {
  topic: string;
  partition: number;
  offset: string;
}

export interface PartitionInfo {
  partition: number;
  leader: number;
  replicas: number[];
  isr: number[];
  earliestOffset: string;
  latestOffset: string;
}

export interface TopicInfo {
  topic: string;
  partitions: PartitionInfo[];
}

export interface OutgoingMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

/**
 * One fetched batch of one partition, handed to the processor. The client delivers the next batch of a
 * partition only after the previous one's handler returned.
 */
export interface Batch {
  topic: string;
  partition: number;
  /** The offsets of its messages, in order (decimal strings). */
  offsets: readonly string[];
  /**
   * Its message at `index`, made when asked for: a batch holds thousands, and made all at once they would
   * all outlive the young generation of the heap while the batch runs.
   */
  message(index: number): ConsumedMessage;
  /** The key of its message at `index` (for per-key ordering), without making the message. */
  key(index: number): Buffer | null;
  /** The offset after the batch (covers filtered control records), as a decimal string. */
  nextOffset: string;
  /** Keeps the group membership alive; rejects when the group is rebalancing (or the coordinator fails). */
  heartbeat(): Promise<void>;
  /** Whether a heartbeat rejection means the partitions are being revoked (the client will rejoin). */
  isRevocation(err: unknown): boolean;
  /**
   * Commits `offset` (the next to consume) for this partition in the current group generation. Rejects
   * with a KmaintError whose `retriable` says whether sending it again soon may succeed (the coordinator
   * moved or is loading the group) or not (the group moved on, or no broker answers).
   */
  commit(offset: string): Promise<void>;
  /** Tells the client where to fetch this partition from next (the first unfinished offset). */
  seekLocal(offset: string): void;
}

export interface ConsumeOptions {
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  onBatch: (batch: Batch) => Promise<void>;
  /**
   * The partitions held now; `incremental` (KIP-848): only those missing were revoked, the others' batches
   * go on. Otherwise every partition was revoked before (the classic protocol's eager rebalance).
   */
  onAssigned: (assigned: Record<string, number[]>, incremental: boolean) => void;
  /**
   * The client is about to give partitions up without first waiting for the running batches (KIP-848 on
   * @platformatic/kafka, which acknowledges a revocation at once): what finished is to be committed now.
   */
  onRevoking: () => void;
  onHealth: (healthy: boolean, detail: string) => void;
  onCommit: (topic: string, partition: number, offset: string) => void;
}

/** How a session ends its membership. */
export interface LeaveOptions {
  /**
   * A static member (group.instance.id) ends its session without LeaveGroup, as Kafka's own client does
   * on close (KIP-1092's REMAIN_IN_GROUP): a shutdown, after which the pod comes back under the same id
   * within the session timeout and keeps its partitions without a rebalance. A maintenance drain never
   * sets it: drained means out of the group. Ignored for a dynamic member, which always leaves.
   */
  remainInGroup?: boolean;
}

/** A joined consumer: pause/resume keep the membership; leave() ends it after the handlers return. */
export interface ConsumerSession {
  /** Resolves with the cause if the consumer died for good (a crash the client will not recover from). */
  readonly dead: Promise<Error>;
  pause(): void;
  resume(): void;
  /** Stops fetching, waits for running batch handlers, leaves the group and disconnects. */
  leave(options?: LeaveOptions): Promise<void>;
}

/** How either adapter connects and joins; each adds what only it has. */
export interface KafkaClientOptions {
  brokers: string[];
  clientId: string;
  tls?: KafkaTls | undefined;
  sasl?: KafkaSasl | undefined;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** The fetch long-poll: leaving the group waits it out once, so a drain wants it short. */
  maxWaitTimeMs: number;
  /** Partitions whose batches are handled at the same time (the worker pool bounds the messages). */
  partitionsConsumedConcurrently: number;
}

/** The small surface kmaint needs from a Kafka client, so a second client can be added later. */
export interface KafkaClient {
  connect(): Promise<void>;
  consume(options: ConsumeOptions): Promise<ConsumerSession>;
  produce(topic: string, message: OutgoingMessage): Promise<SentMessage>;
  topicsInfo(topics: string[]): Promise<TopicInfo[]>;
  /** Which of `topics` the cluster does not have (a consumer never creates them). */
  missingTopics(topics: string[]): Promise<string[]>;
  /** Committed offset per partition of `topics` for `groupId` (null: none committed). */
  committedOffsets(groupId: string, topics: string[]): Promise<Map<string, string | null>>;
  close(): Promise<void>;
  /** Whether an error of this client means the brokers cannot be reached (as opposed to a refused request). */
  isUnreachable(err: unknown): boolean;
}

/** The client libraries kmaint can talk to Kafka through (consumer/src/kafka/<name>.ts). */
export const KAFKA_ADAPTERS = ['kafkajs', 'platformatic'] as const;
export type KafkaAdapter = (typeof KAFKA_ADAPTERS)[number];

/** The consumer group protocols: 'classic' (JoinGroup/SyncGroup) and 'consumer' (KIP-848, Kafka 4.0+). */
export const GROUP_PROTOCOLS = ['classic', 'consumer'] as const;
export type GroupProtocol = (typeof GROUP_PROTOCOLS)[number];

/** Which client a consumer uses and how it joins its group. */
export interface ClientChoice {
  /** The client library (default 'kafkajs'). */
  adapter?: KafkaAdapter;
  /** The group protocol (default 'classic'); 'consumer' needs the platformatic adapter and Kafka 4.0+. */
  groupProtocol?: GroupProtocol;
  /**
   * Static membership (KIP-345, group.instance.id): a member back under the same id within the session
   * timeout keeps its partitions without a rebalance. Needs the platformatic adapter and the classic
   * protocol; ids must be unique in the group (a pod name).
   */
  groupInstanceId?: string;
}

/**
 * Throws KmaintError KAFKA_CLIENT_UNSUPPORTED when the chosen client cannot do what is asked of it: never
 * silently ignored, since each of these changes what a rebalance or a restart does to the group.
 */
export function refuseUnsupported(choice: ClientChoice & { client?: unknown }): void {
  const adapter = choice.adapter ?? 'kafkajs';
  const refuse = (message: string): never => {
    throw new KmaintError('KAFKA_CLIENT_UNSUPPORTED', message);
  };
  if (adapter === 'kafkajs') {
    if (choice.groupProtocol === 'consumer')
      refuse(
        "the consumer group protocol 'consumer' (KIP-848) needs the platformatic client (KAFKA_CLIENT=platformatic): kafkajs speaks only the classic protocol",
      );
    if (choice.groupInstanceId !== undefined)
      refuse(
        'static membership (group.instance.id, KIP-345) needs the platformatic client (KAFKA_CLIENT=platformatic): kafkajs has none',
      );
    return;
  }
  if (choice.client !== undefined)
    refuse('a ready kafkajs client ({ client }) cannot be used with the platformatic client; give brokers');
  if (choice.groupProtocol === 'consumer' && choice.groupInstanceId !== undefined)
    refuse(
      "static membership with the 'consumer' protocol is not supported: @platformatic/kafka leaves a KIP-848 group with member epoch -1, which removes a static member (a rebalance at every restart); use the classic protocol",
    );
}

/** The map key of a topic-partition in offset maps. */
export const tpKey = (topic: string, partition: number): string => `${topic}:${partition}`;
