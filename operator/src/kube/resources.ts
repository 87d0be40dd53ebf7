/** The MaintenanceWindow resource as registered by crds/kmaint.io_maintenancewindows.yaml. */
export const MW = {
  group: 'kmaint.io',
  version: 'v1alpha1',
  plural: 'maintenancewindows',
  kind: 'MaintenanceWindow',
  apiVersion: 'kmaint.io/v1alpha1',
} as const;

/** Held on every window so deleting the last one for a key turns the key off before the object goes. */
export const FINALIZER = 'kmaint.io/switch-off';

/** The fields of a MaintenanceWindow object the adapters touch; the rest is read by core/window.ts. */
export interface WindowObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    finalizers?: string[];
    [k: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}
