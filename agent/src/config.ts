import { accessSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import {
  etcdKey,
  fail,
  identifier,
  KmaintError,
  nonEmpty,
  ok,
  oneOf,
  parseDuration,
  parseEtcdEndpoint,
  text,
  type Parsed,
} from '@kmaint/common';

/**
 * The agent's whole configuration: environment variables with the service's names where they mean the
 * same (ETCD_*, MAINTENANCE_KEY, MEMBER_ID, POD_NAME, DRAIN_TIMEOUT, ETCD_UNAVAILABLE, LOG_LEVEL),
 * validated once at start. The only module that reads process.env.
 */

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface AgentConfig {
  etcdEndpoints: string[];
  etcdCaFile: string | undefined;
  etcdCertFile: string | undefined;
  etcdKeyFile: string | undefined;
  etcdUsername: string | undefined;
  etcdPassword: string | undefined;
  etcdUnavailable: 'keep' | 'maintenance';
  maintenanceKey: string;
  memberId: string;
  podName: string | undefined;
  port: number;
  appTimeoutMs: number;
  drainTimeoutMs: number;
  logLevel: LogLevel;
}

interface Variable {
  name: string;
  default: string | undefined;
  help: string;
  parse: (raw: string) => Parsed<unknown>;
}

const port = (raw: string): Parsed<number> =>
  /^\d{1,5}$/.test(raw.trim()) && Number(raw) <= 65535
    ? ok(Number(raw))
    : fail(`must be a port number 0-65535, got "${raw}"`);

const duration =
  (minMs: number) =>
  (raw: string): Parsed<number> => {
    const parsed = parseDuration(raw);
    if (!parsed.ok) return parsed;
    return parsed.value < minMs ? fail(`must be at least ${minMs}ms, got "${raw}"`) : parsed;
  };

const readableFile = (raw: string): Parsed<string> => {
  try {
    accessSync(raw.trim(), constants.R_OK);
    return ok(raw.trim());
  } catch {
    return fail(`cannot read file "${raw.trim()}"`);
  }
};

function schema(env: Env): Record<keyof AgentConfig, Variable> {
  const tls = nonEmpty(env['ETCD_CA_FILE']) !== undefined || nonEmpty(env['ETCD_CERT_FILE']) !== undefined;
  const endpoints = (raw: string): Parsed<string[]> => {
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (items.length === 0) return fail('must name at least one endpoint');
    const out: string[] = [];
    for (const item of items) {
      const parsed = parseEtcdEndpoint(item, tls);
      if (!parsed.ok) return parsed;
      out.push(parsed.value);
    }
    return ok(out);
  };
  const v = (name: string, def: string | undefined, help: string, parse: Variable['parse']): Variable => ({
    name,
    default: def,
    help,
    parse,
  });
  return {
    etcdEndpoints: v(
      'ETCD_ENDPOINTS',
      'etcd:2379',
      'etcd endpoints, comma-separated host:port or URLs',
      endpoints,
    ),
    etcdCaFile: v('ETCD_CA_FILE', undefined, 'CA bundle for etcd’s certificate', readableFile),
    etcdCertFile: v(
      'ETCD_CERT_FILE',
      undefined,
      'client certificate for etcd (with ETCD_KEY_FILE)',
      readableFile,
    ),
    etcdKeyFile: v('ETCD_KEY_FILE', undefined, 'client key for etcd (with ETCD_CERT_FILE)', readableFile),
    etcdUsername: v('ETCD_USERNAME', undefined, 'etcd user (with ETCD_PASSWORD)', text),
    etcdPassword: v('ETCD_PASSWORD', undefined, 'etcd password (with ETCD_USERNAME)', ok),
    etcdUnavailable: v(
      'ETCD_UNAVAILABLE',
      'keep',
      'while etcd cannot be reached: keep the last known state, or ask the app for maintenance',
      oneOf(['keep', 'maintenance']),
    ),
    maintenanceKey: v(
      'MAINTENANCE_KEY',
      '/maintenance/kafka-service',
      'etcd key of the maintenance switch; the report goes under <key>/members/<MEMBER_ID>',
      etcdKey,
    ),
    memberId: v(
      'MEMBER_ID',
      nonEmpty(env['POD_NAME']) ?? hostname(),
      'id in the member report (default POD_NAME, else the host name)',
      identifier,
    ),
    podName: v('POD_NAME', undefined, 'pod name (downward API)', text),
    port: v(
      'AGENT_PORT',
      '8089',
      'port of the app protocol (/v1/*, localhost only), the probes and /metrics',
      port,
    ),
    appTimeoutMs: v(
      'APP_TIMEOUT',
      '30s',
      'the app counts as not responding after this long without a poll or report (an open poll counts as contact)',
      duration(1_000),
    ),
    drainTimeoutMs: v(
      'DRAIN_TIMEOUT',
      '45s',
      'drain timeout when the switch gives none; a drain longer than it plus APP_TIMEOUT is reported overdue',
      duration(1),
    ),
    logLevel: v('LOG_LEVEL', 'info', `log level: ${LOG_LEVELS.join(', ')}`, oneOf(LOG_LEVELS)),
  };
}

export class ConfigError extends KmaintError {
  constructor(problems: string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/** Reads and validates the configuration; throws a ConfigError naming every bad variable at once. */
export function loadConfig(env: Env = process.env): AgentConfig {
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema(env))) {
    const raw = nonEmpty(env[spec.name]) ?? spec.default;
    if (raw === undefined) {
      config[key] = undefined;
      continue;
    }
    const parsed = spec.parse(raw);
    if (parsed.ok) config[key] = parsed.value;
    else problems.push(`${spec.name}: ${parsed.error}`);
  }
  const together = (a: string, b: string) => {
    if ((nonEmpty(env[a]) === undefined) !== (nonEmpty(env[b]) === undefined))
      problems.push(`${a}: must be set together with ${b}`);
  };
  together('ETCD_CERT_FILE', 'ETCD_KEY_FILE');
  together('ETCD_USERNAME', 'ETCD_PASSWORD');
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config) as unknown as AgentConfig;
}

export function helpText(): string {
  const rows = Object.values(schema({}));
  const width = Math.max(...rows.map((r) => r.name.length));
  return [
    'kmaint-agent: the maintenance sidecar. Follows the etcd switch, tells the app on localhost, reports',
    'for it under <MAINTENANCE_KEY>/members/<MEMBER_ID> and serves the pod’s readiness.',
    '',
    ...rows.map((r) => `${r.name.padEnd(width)}  ${(r.default ?? '(unset)').padEnd(26)}  ${r.help}`),
    '',
  ].join('\n');
}
