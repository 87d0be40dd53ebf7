import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The operator's own metrics, on a registry per instance so several can live in one test process. Node's
 * default metrics keep prom-client's names (process_*, nodejs_*), as the service exports them, so one
 * dashboard query covers both; kmaint_operator_build_info tells an operator's series apart.
 */
export function createMetrics(version = OPERATOR_VERSION) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const buildInfo = new Gauge({
    name: 'kmaint_operator_build_info',
    help: 'Always 1; the labels say which operator build and Node.js runtime this is',
    labelNames: ['version', 'nodejs'] as const,
    registers: [registry],
  });
  buildInfo.set({ version, nodejs: process.version }, 1);
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
    queueWaitSeconds: new Histogram({
      name: 'kmaint_operator_queue_wait_seconds',
      help: 'How long an item waited in the work queue before a worker took it, by kind (window, key)',
      labelNames: ['kind'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    windowActive: new Gauge({
      name: 'kmaint_operator_window_active',
      help: '1 while the window holds its key on, else 0; window is "<namespace>/<name>"',
      labelNames: ['window'] as const,
      registers: [registry],
    }),
    windowDrained: new Gauge({
      name: 'kmaint_operator_window_drained',
      help: '1 while the window is active and every pod it tracks is drained, else 0; window is "<namespace>/<name>"',
      labelNames: ['window'] as const,
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

const OPERATOR_VERSION = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

export type Metrics = ReturnType<typeof createMetrics>;
