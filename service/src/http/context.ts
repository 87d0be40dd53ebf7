import type { ApiStatus, ServicePort } from './port.ts';
import type { SendAccess } from './send-access.ts';

/** What the route plugins share: the service behind the API and the static facts of this instance. */
export interface RouteContext {
  service: ServicePort;
  topics: readonly string[];
  consumerGroup: string;
  memberId: string;
  maintenanceKey: string;
  /** Who may use POST /messages/send; open (GoMaint's demo) when omitted. */
  sendAccess?: SendAccess;
}

/**
 * Maintenance is what the switch (or a shutdown) brought about: draining, in it, or resuming from it.
 * Starting and joining with the switch off are not: the endpoints that need no group membership serve
 * then, and only readiness waits for the session. Once a shutdown has begun the instance is on its way
 * out even before the engine leaves `running`.
 */
export const inMaintenance = (status: ApiStatus): boolean =>
  status.state === 'draining' ||
  status.state === 'maintenance' ||
  status.state === 'resuming' ||
  status.shuttingDown;

/** Ready only while a live consumer session consumes (state `running`) and no shutdown has begun. */
export const isReady = (status: ApiStatus): boolean => status.state === 'running' && !status.shuttingDown;

export function maintenanceMessage(status: ApiStatus): string {
  const why = status.shuttingDown
    ? 'the service is shutting down'
    : `maintenance${status.desired.reason ? ` (${status.desired.reason})` : ''}`;
  return `unavailable during ${why}: state ${status.state} since ${status.since}`;
}
