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
  onAssigned: (assigned: Record<string, number[]>) => void;
  onHealth: (healthy: boolean, detail: string) => void;
  onCommit: (topic: string, partition: number, offset: string) => void;
}

/** A joined consumer: pause/resume keep the membership; leave() ends it after the handlers return. */
export interface ConsumerSession {
  /** Resolves with the cause if the consumer died for good (a crash the client will not recover from). */
  readonly dead: Promise<Error>;
  pause(): void;
  resume(): void;
  /** Stops fetching, waits for running batch handlers, leaves the group and disconnects. */
  leave(): Promise<void>;
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

/** The map key of a topic-partition in offset maps. */
export const tpKey = (topic: string, partition: number): string => `${topic}:${partition}`;
