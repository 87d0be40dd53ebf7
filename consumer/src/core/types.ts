import type { MaintenanceMode, MemberState } from '@kmaint/common';

export type { Desired } from '@kmaint/common';

/** The engine's actual state; the same words as the member report's `state`. */
export type EngineState = MemberState;

/** How the last drain ended. `leftInFlight` messages were aborted and will be redelivered after resume. */
export interface DrainResult {
  mode: MaintenanceMode;
  durationMs: number;
  leftInFlight: number;
  timedOut: boolean;
}

export interface ComponentHealth {
  healthy: boolean;
  detail: string;
  /** Kafka only: configured topics the broker does not have, found when joining the group failed. */
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

/** One entry of the last-errors ring buffer. */
export interface RecordedError {
  /** ISO timestamp. */
  at: string;
  code: string;
  message: string;
  topic?: string;
  partition?: number;
  offset?: string;
}
