import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The operator's own metrics, on a registry per instance so several can live in one test process. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kmaint_operator_' });
  return {
    registry,
    reconciles: new Counter({
      name: 'kmaint_operator_reconciles_total',
      help: 'Reconciles by kind (window, key) and result (ok, error)',
      labelNames: ['kind', 'result'] as const,
      registers: [registry],
    }),
    reconcileSeconds: new Histogram({
      name: 'kmaint_operator_reconcile_duration_seconds',
      help: 'Time one reconcile took',
      labelNames: ['kind'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'kmaint_operator_errors_total',
      help: 'Errors by code',
      labelNames: ['code'] as const,
      registers: [registry],
    }),
    reconcileErrors: new Counter({
      name: 'kmaint_operator_reconcile_errors_total',
      help: 'Failed reconciles by kind (window, key) and reason (the error code, e.g. ETCD_WRITE, KUBE_STATUS_PATCH)',
      labelNames: ['kind', 'reason'] as const,
      registers: [registry],
    }),
    windows: new Gauge({
      name: 'kmaint_operator_windows',
      help: 'MaintenanceWindows by state (active, pending, ended, capped, suspended, invalid, deleting)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'kmaint_operator_queue_depth',
      help: 'Items waiting in the work queue',
      registers: [registry],
    }),
    keyWrites: new Counter({
      name: 'kmaint_operator_key_writes_total',
      help: 'Writes of switch keys to etcd, by value (on, off)',
      labelNames: ['value'] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'kmaint_operator_leader',
      help: '1 while this instance holds the leader lease',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
