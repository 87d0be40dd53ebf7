export { KmaintError, isRetriable } from './errors.ts';
export { fail, ok, type Parsed } from './result.ts';
export { etcdKey, identifier, nonEmpty, oneOf, text } from './config-values.ts';
export { formatDuration, parseDuration } from './duration.ts';
export { abortableDelay, backoffDelay } from './backoff.ts';
export { withTimeout } from './timeout.ts';
export { parseEtcdEndpoint, parseHostPort } from './endpoints.ts';
export {
  MAINTENANCE_MODES,
  SWITCH_OFF,
  SWITCH_VALUE_VERSION,
  encodeSwitchValue,
  parseSwitchValue,
  switchKey,
  toDesired,
  type Desired,
  type MaintenanceMode,
  type SwitchValue,
} from './switch.ts';
export {
  MEMBER_REPORT_VERSION,
  MEMBER_STATES,
  encodeMemberReport,
  memberKey,
  membersPrefix,
  parseMemberReport,
  type MemberReport,
  type MemberState,
} from './members.ts';
