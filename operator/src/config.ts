import { hostname } from 'node:os';
import { KmaintError, parseDuration } from '@kmaint/common';

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
  logLevel: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): OperatorConfig {
  const errors: string[] = [];
  const get = (name: string): string | null => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? null : v;
  };
  const duration = (name: string, fallback: string): number => {
    const parsed = parseDuration(get(name) ?? fallback);
    if (!parsed.ok) errors.push(`${name}: ${parsed.error}`);
    else if (parsed.value <= 0) errors.push(`${name}: must be positive`);
    return parsed.ok ? parsed.value : 0;
  };

  const portText = get('HTTP_PORT') ?? '8080';
  const httpPort = Number(portText);
  if (!/^\d+$/.test(portText) || httpPort > 65_535)
    errors.push(`HTTP_PORT: "${portText}" is not a port number`);

  const tls = get('ETCD_CA_FILE') !== null || get('ETCD_CERT_FILE') !== null;
  const hosts: string[] = [];
  for (const raw of (get('ETCD_ENDPOINTS') ?? 'etcd:2379').split(',')) {
    const endpoint = raw.trim();
    if (endpoint === '') continue;
    if (/^https?:\/\//.test(endpoint)) hosts.push(endpoint);
    else if (/^[A-Za-z0-9.\-_[\]:]+:\d+$/.test(endpoint))
      hosts.push(`${tls ? 'https' : 'http'}://${endpoint}`);
    else errors.push(`ETCD_ENDPOINTS: "${endpoint}" is neither host:port nor an http(s):// URL`);
  }
  if (hosts.length === 0) errors.push('ETCD_ENDPOINTS: no endpoint given');
  if ((get('ETCD_CERT_FILE') === null) !== (get('ETCD_KEY_FILE') === null)) {
    errors.push('ETCD_CERT_FILE and ETCD_KEY_FILE go together');
  }

  const leaderText = (get('LEADER_ELECTION') ?? 'true').toLowerCase();
  if (!['true', 'false'].includes(leaderText)) errors.push(`LEADER_ELECTION: must be true or false`);
  const logLevel = (get('LOG_LEVEL') ?? 'info').toLowerCase();
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
    leaseName: get('LEADER_ELECTION_LEASE_NAME') ?? 'kmaint-operator',
    identity: get('POD_NAME') ?? hostname(),
    leaseDurationMs: duration('LEASE_DURATION', '15s'),
    resyncPeriodMs: duration('RESYNC_PERIOD', '5m'),
    logLevel,
  };
  if (errors.length > 0) {
    throw new KmaintError('CONFIG_INVALID', `invalid configuration:\n  ${errors.join('\n  ')}`);
  }
  return config;
}
