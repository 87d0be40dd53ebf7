/**
 * The one list of condition types and reasons the operator writes (status, events and tests all use these
 * constants, so `kubectl describe` and the code cannot drift apart).
 */
export const CONDITION = {
  Scheduled: 'Scheduled',
  Active: 'Active',
  Drained: 'Drained',
  Degraded: 'Degraded',
  /** Whether the operator could write what the window asks (the switch key in etcd). */
  Reconciled: 'Reconciled',
} as const;
export type ConditionType = (typeof CONDITION)[keyof typeof CONDITION];

export const REASON = {
  // Scheduled
  Unscheduled: 'Unscheduled',
  Upcoming: 'Upcoming',
  InWindow: 'InWindow',
  Recurring: 'Recurring',
  Ended: 'Ended',
  InvalidSchedule: 'InvalidSchedule',
  Suspended: 'Suspended',
  Deleting: 'Deleting',
  // Active
  WindowOpen: 'WindowOpen',
  NotStarted: 'NotStarted',
  BetweenWindows: 'BetweenWindows',
  WindowEnded: 'WindowEnded',
  MaxDurationExceeded: 'MaxDurationExceeded',
  // Drained
  AllDrained: 'AllDrained',
  NoPodsSelected: 'NoPodsSelected',
  Draining: 'Draining',
  NotActive: 'NotActive',
  // Degraded
  DrainTimeoutExceeded: 'DrainTimeoutExceeded',
  WithinDrainTimeout: 'WithinDrainTimeout',
  // Reconciled
  KeyInSync: 'KeyInSync',
  EtcdReadFailed: 'EtcdReadFailed',
  EtcdWriteFailed: 'EtcdWriteFailed',
  /** The operator's etcd user may not read or write the key (ETCD_PERMISSION). */
  EtcdPermissionDenied: 'EtcdPermissionDenied',
  NotLeader: 'NotLeader',
  // Events only: a status that cannot be written cannot say so itself.
  StatusWriteFailed: 'StatusWriteFailed',
  FinalizerWriteFailed: 'FinalizerWriteFailed',
  AutoscalerPauseFailed: 'AutoscalerPauseFailed',
} as const;
export type Reason = (typeof REASON)[keyof typeof REASON];

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: Reason;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Reasons a person should look at: their events are Warnings. */
export const WARNING_REASONS: ReadonlySet<Reason> = new Set([
  REASON.InvalidSchedule,
  REASON.MaxDurationExceeded,
  REASON.DrainTimeoutExceeded,
  REASON.EtcdReadFailed,
  REASON.EtcdWriteFailed,
  REASON.EtcdPermissionDenied,
  REASON.StatusWriteFailed,
  REASON.FinalizerWriteFailed,
  REASON.AutoscalerPauseFailed,
]);
