/**
 * What the HTTP layer needs from the rest of the service, and nothing more: the routes depend on this
 * interface, not on the engine or on kafkajs, so they are tested against a fake and the engine can change
 * behind an adapter (see ./consumer-adapter.ts).
 */

/**
 * `starting` (before the switch is read) and `joining` (switch off, not in the group yet: at start, while
 * a join fails, after the consumer died) are not maintenance; only `running` is ready.
 */
export type ApiState = 'running' | 'draining' | 'maintenance' | 'resuming' | 'starting' | 'joining';

export interface ApiComponent {
  healthy: boolean;
  detail: string;
  /** Kafka only: configured topics the broker does not have (the consumer cannot join until they exist). */
  missingTopics?: string[];
  /** Kafka only: partitions held at a message that can be neither processed nor dead-lettered. */
  blockedPartitions?: {
    topic: string;
    partition: number;
    offset: string;
    since: string;
    reason: string;
    failures: number;
  }[];
}

export interface ApiStatus {
  state: ApiState;
  /** ISO time the engine entered `state`. */
  since: string;
  /** What the switch asks for; the actual state follows it (possibly after a drain or a resume). */
  desired: {
    maintenance: boolean;
    mode: 'drain' | 'pause';
    reason: string | null;
    window: string | null;
  };
  inFlight: number;
  /** The drain timeout that applies to the current or next drain. */
  drainTimeoutMs: number;
  lastDrain: {
    mode: 'drain' | 'pause';
    durationMs: number;
    leftInFlight: number;
    timedOut: boolean;
  } | null;
  components: { kafka: ApiComponent; etcd: ApiComponent };
  /** The last switch value that parsed as neither off/on nor JSON, while it is still the key's value. */
  invalidSwitch: { raw: string; error: string; at: string } | null;
  /** SIGTERM/SIGINT received: the service is draining to exit. */
  shuttingDown: boolean;
}

export interface ApiPartitionStats {
  topic: string;
  partition: number;
  /** Next offset the group will read (Kafka's convention); null when the group has not committed. */
  committedOffset: string | null;
  /** The partition's high watermark; null when the broker could not be asked. */
  endOffset: string | null;
  lag: number | null;
}

export interface ApiStats {
  received: number;
  processed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  inFlight: number;
  commits: number;
  partitions: ApiPartitionStats[];
  errors: {
    at: string;
    code: string;
    message: string;
    topic?: string;
    partition?: number;
    offset?: string;
  }[];
}

export interface ApiTopic {
  name: string;
  partitions: {
    partition: number;
    leader: number;
    replicas: number[];
    isr: number[];
    earliestOffset: string;
    latestOffset: string;
  }[];
}

export interface ApiSendRequest {
  topic: string;
  message: string;
  key?: string;
  headers?: Record<string, string>;
}

export interface ApiSendResult {
  topic: string;
  partition: number;
  offset: string;
}

export interface ServicePort {
  status(): ApiStatus;
  /** Never rejects for an unreachable broker: the counters are local; unknown offsets are null. */
  stats(): Promise<ApiStats>;
  /** Rejects with a KmaintError: retriable when Kafka may accept it later. */
  send(request: ApiSendRequest): Promise<ApiSendResult>;
  topicsInfo(): Promise<ApiTopic[]>;
}
