import { hostname } from 'node:os';
import { KmaintError, parseDuration, parseEtcdEndpoint } from '@kmaint/common';

/**
 * The operator's whole configuration (contracts: names and defaults agreed with the chart). The only
 * module that reads process.env; every bad variable is reported at once, before anything starts.
 */
export interface OperatorConfig {
  httpPort: number;
  etcd: {
    /** URLs with scheme, as etcd3 wants them. */
    hosts: string[];
    caFile: string | null;
    certFile: string | null;
    keyFile: string | null;
    username: string | null;
    password: string | null;
  };
  /** null: in-cluster service account. */
  kubeconfig: string | null;
  /** null: all namespaces. */
  watchNamespace: string | null;
  leaderElection: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  leaseDurationMs: number;
  resyncPeriodMs: number;
  /** How many reconciles run at once (each mostly waits on the apiserver or etcd). */
  workers: number;
  logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Every variable the operator reads, with the default --help shows and loadConfig falls back to. */
const VARIABLES = {
  ETCD_ENDPOINTS: {
    default: 'etcd:2379',
    help: 'etcd endpoints, comma-separated host:port or http(s):// URLs',
  },
  ETCD_CA_FILE: { default: '', help: 'CA bundle that signs the etcd server certificate (turns on TLS)' },
  ETCD_CERT_FILE: { default: '', help: 'client certificate for etcd (with ETCD_KEY_FILE)' },
  ETCD_KEY_FILE: { default: '', help: 'client key for etcd (with ETCD_CERT_FILE)' },
  ETCD_USERNAME: { default: '', help: 'etcd user name (with ETCD_PASSWORD)' },
  ETCD_PASSWORD: { default: '', help: 'etcd password' },
  KUBECONFIG: { default: '', help: 'kubeconfig file; unset: the in-cluster service account' },
  WATCH_NAMESPACE: { default: '', help: 'namespace whose windows are reconciled; unset: all namespaces' },
  HTTP_PORT: { default: '8080', help: 'port of /livez, /readyz and /metrics' },
  LEADER_ELECTION: {
    default: 'true',
    help: 'elect one writer among replicas through a coordination.k8s.io Lease',
  },
  LEADER_ELECTION_NAMESPACE: {
    default: '',
    help: 'namespace of the Lease; unset: POD_NAMESPACE, else default',
  },
  LEADER_ELECTION_LEASE_NAME: { default: 'kmaint-operator', help: 'name of the Lease' },
  POD_NAME: { default: '', help: 'identity in the Lease and the logs; unset: the host name' },
  POD_NAMESPACE: { default: '', help: 'the pod namespace (downward API)' },
  LEASE_DURATION: { default: '15s', help: 'how long a silent leader keeps the Lease' },
  RESYNC_PERIOD: { default: '5m', help: 'how often every window is reconciled even without a change' },
  RECONCILE_WORKERS: {
    default: '32',
    help: 'reconciles in flight at once (apiserver and etcd round trips overlap)',
  },
  LOG_LEVEL: { default: 'info', help: `one of ${LOG_LEVELS.join(', ')}` },
  // Read by Node itself, not here: listed so --help and the chart's contract name it.
  NODE_OPTIONS: { default: '', help: 'Node.js flags; the chart sizes the heap for the memory limit here' },
  // Read by glibc, not here: the chart sets it to 2 so idle malloc arenas do not add to the RSS.
  MALLOC_ARENA_MAX: {
    default: '',
    help: 'glibc malloc arenas; the chart sets 2 (fewer idle arenas in the RSS)',
  },
} as const;

type Variable = keyof typeof VARIABLES;

/** The names of every variable the operator reads (the chart is tested against them). */
export const variableNames = (): string[] => Object.keys(VARIABLES);

/** What `--help` prints: every variable, its default and what it is for. */
export function helpText(): string {
  const rows = Object.entries(VARIABLES).map(
    ([name, v]) => `  ${name.padEnd(28)} ${(v.default === '' ? '(unset)' : v.default).padEnd(16)} ${v.help}`,
  );
  return `kmaint-operator: reconciles MaintenanceWindow resources into etcd maintenance keys.\n\nEnvironment:\n${rows.join('\n')}\n`;
}

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): OperatorConfig {
  const errors: string[] = [];
  const get = (name: Variable): string | null => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? null : v;
  };
  const getOrDefault = (name: Variable): string => get(name) ?? VARIABLES[name].default;
  const duration = (name: Variable): number => {
    const parsed = parseDuration(getOrDefault(name));
    if (!parsed.ok) errors.push(`${name}: ${parsed.error}`);
    else if (parsed.value <= 0) errors.push(`${name}: must be positive`);
    return parsed.ok ? parsed.value : 0;
  };

  const portText = getOrDefault('HTTP_PORT');
  const httpPort = Number(portText);
  if (!/^\d+$/.test(portText) || httpPort > 65_535)
    errors.push(`HTTP_PORT: "${portText}" is not a port number`);

  const tls = get('ETCD_CA_FILE') !== null || get('ETCD_CERT_FILE') !== null;
  const hosts: string[] = [];
  for (const raw of getOrDefault('ETCD_ENDPOINTS').split(',')) {
    const endpoint = raw.trim();
    if (endpoint === '') continue;
    const parsed = parseEtcdEndpoint(endpoint, tls);
    if (parsed.ok) hosts.push(parsed.value);
    else errors.push(`ETCD_ENDPOINTS: ${parsed.error}`);
  }
  if (hosts.length === 0) errors.push('ETCD_ENDPOINTS: no endpoint given');
  if ((get('ETCD_CERT_FILE') === null) !== (get('ETCD_KEY_FILE') === null)) {
    errors.push('ETCD_CERT_FILE and ETCD_KEY_FILE go together');
  }

  const workersText = getOrDefault('RECONCILE_WORKERS');
  const workers = Number(workersText);
  if (!/^\d+$/.test(workersText) || workers < 1 || workers > 64)
    errors.push(`RECONCILE_WORKERS: "${workersText}" is not a number from 1 to 64`);

  const leaderText = getOrDefault('LEADER_ELECTION').toLowerCase();
  if (!['true', 'false'].includes(leaderText)) errors.push(`LEADER_ELECTION: must be true or false`);
  const logLevel = getOrDefault('LOG_LEVEL').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) errors.push(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}`);

  const config: OperatorConfig = {
    httpPort,
    etcd: {
      hosts,
      caFile: get('ETCD_CA_FILE'),
      certFile: get('ETCD_CERT_FILE'),
      keyFile: get('ETCD_KEY_FILE'),
      username: get('ETCD_USERNAME'),
      password: get('ETCD_PASSWORD'),
    },
    kubeconfig: get('KUBECONFIG'),
    watchNamespace: get('WATCH_NAMESPACE'),
    leaderElection: leaderText === 'true',
    leaseNamespace: get('LEADER_ELECTION_NAMESPACE') ?? get('POD_NAMESPACE') ?? 'default',
    leaseName: getOrDefault('LEADER_ELECTION_LEASE_NAME'),
    identity: get('POD_NAME') ?? hostname(),
    leaseDurationMs: duration('LEASE_DURATION'),
    resyncPeriodMs: duration('RESYNC_PERIOD'),
    workers,
    logLevel,
  };
  if (errors.length > 0) {
    throw new KmaintError('CONFIG_INVALID', `invalid configuration:\n  ${errors.join('\n  ')}`);
  }
  return config;
}
