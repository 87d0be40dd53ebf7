import { hostname } from 'node:os';

export interface LedgerConfig {
  brokers: string[];
  topics: string[];
  groupId: string;
  clientId: string;
  etcdEndpoints: string[];
  maintenanceKey: string;
  memberId: string;
  pod: string | undefined;
  httpPort: number;
  /** One SQLite file per instance: <ledgerDir>/<memberId>.sqlite. */
  ledgerDir: string;
  concurrency: number;
  drainTimeoutMs: number;
}

export class ConfigError extends Error {}

const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new ConfigError(`${name}: expected a positive integer, got "${value}"`);
  return n;
}

/** DRAIN_TIMEOUT as the kmaint chart writes it (whole seconds, e.g. "45s"). */
function seconds(name: string, value: string): number {
  const m = /^(\d+)s$/.exec(value);
  if (m === null) throw new ConfigError(`${name}: expected whole seconds such as "45s", got "${value}"`);
  return Number(m[1]) * 1000;
}

/** The example's settings from the environment (the same variable names as the kmaint service). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): LedgerConfig {
  const get = (name: string, fallback: string): string => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? fallback : v;
  };
  const memberId = get('MEMBER_ID', get('POD_NAME', hostname()));
  const topics = list(get('KAFKA_TOPICS', 'orders'));
  const brokers = list(get('KAFKA_BROKERS', 'localhost:9092'));
  const etcdEndpoints = list(get('ETCD_ENDPOINTS', 'localhost:2379'));
  if (topics.length === 0 || brokers.length === 0 || etcdEndpoints.length === 0) {
    throw new ConfigError('KAFKA_TOPICS, KAFKA_BROKERS and ETCD_ENDPOINTS must each name at least one');
  }
  return {
    brokers,
    topics,
    groupId: get('KAFKA_CONSUMER_GROUP', 'orders-ledger'),
    clientId: get('KAFKA_CLIENT_ID', 'orders-ledger'),
    etcdEndpoints,
    maintenanceKey: get('MAINTENANCE_KEY', '/maintenance/orders-ledger'),
    memberId,
    pod: env['POD_NAME'],
    httpPort: positiveInt('HTTP_PORT', get('HTTP_PORT', '8083')),
    ledgerDir: get('LEDGER_DIR', '.'),
    concurrency: positiveInt('MAX_WORKERS', get('MAX_WORKERS', '4')),
    drainTimeoutMs: seconds('DRAIN_TIMEOUT', get('DRAIN_TIMEOUT', '30s')),
  };
}
