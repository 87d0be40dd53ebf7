import type { ApiStatus, ServicePort } from './port.ts';

/** What the route plugins share: the service behind the API and the static facts of this instance. */
export interface RouteContext {
  service: ServicePort;
  topics: readonly string[];
  consumerGroup: string;
  memberId: string;
  maintenanceKey: string;
}

/**
 * The API serves traffic only while consuming: every other state is some phase of maintenance, and once a
 * shutdown has begun the instance is on its way out even before the engine leaves `running`.
 */
export const inMaintenance = (status: ApiStatus): boolean =>
  status.state !== 'running' || status.shuttingDown;

export function maintenanceMessage(status: ApiStatus): string {
  const why = status.shuttingDown
    ? 'the service is shutting down'
    : `maintenance${status.desired.reason ? ` (${status.desired.reason})` : ''}`;
  return `unavailable during ${why}: state ${status.state} since ${status.since}`;
}
