import { accessSync, constants, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import {
  fail,
  formatDuration,
  KmaintError,
  ok,
  parseDuration,
  parseEtcdEndpoint,
  parseHostPort,
  type Parsed,
  etcdKey,
  identifier,
  nonEmpty,
  oneOf,
  text,
} from '@kmaint/common';
import { GROUP_PROTOCOLS, KAFKA_ADAPTERS, SASL_MECHANISMS } from '@kmaint/consumer';

/**
 * The service's whole configuration: one schema of environment variables (GoMaint's names and defaults
 * first), validated once at start. This is the only module that reads process.env.
 */

type Env = Readonly<Record<string, string | undefined>>;

interface Variable<T> {
  name: string;
  /** The default as a person would write it; parsed like any value, so help text and behaviour agree. */
  default: string | ((env: Env) => string | undefined) | undefined;
  /** How --help describes the default when it is computed. */
  defaultText?: string;
  help: string;
  parse: (raw: string, env: Env) => Parsed<T>;
}

const variable = <T>(spec: Variable<T>): Variable<T> => spec;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): Parsed<number> => {
    const text = raw.trim();
    if (!/^-?\d+$/.test(text)) return fail(`must be a whole number, got "${raw}"`);
    const n = Number(text);
    if (n < min || n > max) return fail(`must be between ${min} and ${max}, got ${n}`);
    return ok(n);
  };
}

function duration(opts: { allowZero: boolean }) {
  return (raw: string): Parsed<number> => {
    const parsed = parseDuration(raw);
    if (!parsed.ok) return parsed;
    if (parsed.value === 0 && !opts.allowZero) return fail(`must be longer than 0, got "${raw}"`);
    return parsed;
  };
}

function boolean(raw: string): Parsed<boolean> {
  const word = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(word)) return ok(true);
  if (['false', '0', 'no', 'off'].includes(word)) return ok(false);
  return fail(`must be true or false, got "${raw}"`);
}

/** A comma-separated list; empty items (a trailing comma) are ignored, an empty list is an error. */
function list<T>(item: (raw: string) => Parsed<T>) {
  return (raw: string): Parsed<T[]> => {
    const items = raw
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    if (items.length === 0) return fail('must name at least one item');
    const values: T[] = [];
    for (const raw of items) {
      const parsed = item(raw);
      if (!parsed.ok) return parsed;
      if (!values.includes(parsed.value)) values.push(parsed.value);
    }
    return ok(values);
  };
}

/** TLS is on when a CA or client certificate is configured; bare host:port endpoints then get https. */
function etcdTls(env: Env): boolean {
  return nonEmpty(env['ETCD_CA_FILE']) !== undefined || nonEmpty(env['ETCD_CERT_FILE']) !== undefined;
}

/** TLS files make KAFKA_TLS default to on, as the etcd ones do for etcd. */
function kafkaTlsFiles(env: Env): boolean {
  return nonEmpty(env['KAFKA_CA_FILE']) !== undefined || nonEmpty(env['KAFKA_CERT_FILE']) !== undefined;
}

function topic(raw: string): Parsed<string> {
  if (raw.length > 249 || !/^[A-Za-z0-9._-]+$/.test(raw) || raw === '.' || raw === '..') {
    return fail(`"${raw}" is not a valid Kafka topic name (letters, digits, ".", "_", "-"; at most 249)`);
  }
  return ok(raw);
}

/** A bearer token of POST /messages/send. Never echoed: a problem names the rule, not the value. */
function sendToken(raw: string): Parsed<string> {
  return raw.trim().length >= 16 ? ok(raw.trim()) : fail('must be at least 16 characters');
}

/**
 * The token MESSAGES_SEND_TOKEN_FILE holds now. Read at start (a missing or short token is a start-up
 * error) and for every request checked, so a rotated Secret applies without a restart and no old token
 * lingers; the file is a few bytes on the kubelet's tmpfs, cheaper to read than to watch.
 */
export function readSendTokenFile(path: string): Parsed<string> {
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch {
    return fail(`cannot read file "${path}"`);
  }
  const token = sendToken(raw);
  return token.ok ? token : fail(`the token in "${path}" ${token.error}`);
}

function readableFile(raw: string): Parsed<string> {
  const path = raw.trim();
  try {
    accessSync(path, constants.R_OK);
    return ok(path);
  } catch {
    return fail(`cannot read file "${path}"`);
  }
}

/** Variables in the order --help lists them: GoMaint's four first. */
const schema = {
  kafkaBrokers: variable({
    name: 'KAFKA_BROKERS',
    default: 'kafka:29092',
    help: 'Kafka bootstrap brokers, comma-separated host:port',
    parse: list(parseHostPort),
  }),
  kafkaTopics: variable({
    name: 'KAFKA_TOPICS',
    default: 'test-topic,user-events,system-logs',
    help: 'Topics to consume (and the only ones POST /messages/send accepts), comma-separated',
    parse: list(topic),
  }),
  consumerGroup: variable({
    name: 'KAFKA_CONSUMER_GROUP',
    default: 'gomaint-consumer-group',
    help: 'Kafka consumer group id',
    parse: identifier,
  }),
  etcdEndpoints: variable({
    name: 'ETCD_ENDPOINTS',
    default: 'etcd:2379',
    help: 'etcd endpoints, comma-separated host:port or http(s):// URLs',
    parse: (raw, env) => list((item) => parseEtcdEndpoint(item, etcdTls(env)))(raw),
  }),
  httpPort: variable({
    name: 'HTTP_PORT',
    default: '8083',
    help: 'Port of the HTTP API, /metrics and the probes (0: any free port)',
    parse: integer(0, 65535),
  }),
  maintenanceKey: variable({
    name: 'MAINTENANCE_KEY',
    default: '/maintenance/kafka-service',
    help: 'etcd key of the maintenance switch; members report under <key>/members/',
    parse: etcdKey,
  }),
  podName: variable({
    name: 'POD_NAME',
    default: undefined,
    help: 'Pod name (Kubernetes downward API)',
    parse: text,
  }),
  podNamespace: variable({
    name: 'POD_NAMESPACE',
    default: undefined,
    help: 'Pod namespace (Kubernetes downward API)',
    parse: text,
  }),
  memberId: variable({
    name: 'MEMBER_ID',
    default: (env) => nonEmpty(env['POD_NAME']) ?? hostname(),
    defaultText: 'POD_NAME, else the host name',
    help: 'This instance’s id in its etcd member report',
    parse: identifier,
  }),
  clientId: variable({
    name: 'KAFKA_CLIENT_ID',
    default: 'kmaint-service',
    help: 'Kafka client id',
    parse: identifier,
  }),
  batchSize: variable({
    name: 'KAFKA_BATCH_SIZE',
    default: '100',
    help: 'Finished messages between offset commits within a fetched batch (and a commit at its end)',
    parse: integer(1, 100_000),
  }),
  sessionTimeoutMs: variable({
    name: 'KAFKA_SESSION_TIMEOUT',
    default: '30s',
    help: 'Consumer group session timeout',
    parse: duration({ allowZero: false }),
  }),
  heartbeatIntervalMs: variable({
    name: 'KAFKA_HEARTBEAT_INTERVAL',
    default: '3s',
    help: 'Consumer group heartbeat interval (less than the session timeout)',
    parse: duration({ allowZero: false }),
  }),
  drainTimeoutMs: variable({
    name: 'DRAIN_TIMEOUT',
    default: '45s',
    help: 'Longest wait for in-flight messages in a drain before they are aborted (redelivered later)',
    parse: duration({ allowZero: false }),
  }),
  maxProcessingTimeMs: variable({
    name: 'MAX_PROCESSING_TIME',
    default: '30s',
    help: 'Longest time one message may be processed before the attempt counts as failed',
    parse: duration({ allowZero: false }),
  }),
  offsetInitial: variable({
    name: 'KAFKA_OFFSET_INITIAL',
    default: 'oldest',
    help: 'Where a group without committed offsets starts: oldest or newest',
    parse: oneOf(['oldest', 'newest']),
  }),
  enableAutoCommit: variable({
    name: 'KAFKA_ENABLE_AUTO_COMMIT',
    default: 'false',
    help: 'Commit on an interval instead of after each finished message (still never past unfinished ones)',
    parse: boolean,
  }),
  autoCommitIntervalMs: variable({
    name: 'KAFKA_AUTO_COMMIT_INTERVAL',
    default: '5s',
    help: 'Interval of auto-commits',
    parse: duration({ allowZero: false }),
  }),
  retryBackoffMs: variable({
    name: 'RETRY_BACKOFF',
    default: '100ms',
    help: 'First backoff between attempts of a failing message; doubles each retry',
    parse: duration({ allowZero: true }),
  }),
  maxRetries: variable({
    name: 'MAX_RETRIES',
    default: '3',
    help: 'Retries of a failing message before it goes to the dead-letter topic',
    parse: integer(0, 1000),
  }),
  maxWorkers: variable({
    name: 'MAX_WORKERS',
    default: '5',
    help: 'Messages processed at once',
    parse: integer(1, 1000),
  }),
  orderBy: variable({
    name: 'ORDER_BY',
    default: 'partition',
    help: 'Order kept: partition (one message at a time per partition) or key (in order per key within a partition)',
    parse: oneOf(['partition', 'key']),
  }),
  dlqTopicSuffix: variable({
    name: 'DLQ_TOPIC_SUFFIX',
    default: '.dlq',
    help: 'Dead-letter topic of a topic: its name plus this suffix',
    parse: (raw): Parsed<string> =>
      /^[A-Za-z0-9._-]{1,40}$/.test(raw.trim())
        ? ok(raw.trim())
        : fail(`must be 1-40 letters, digits, ".", "_" or "-", got "${raw}"`),
  }),
  kafkaClient: variable({
    name: 'KAFKA_CLIENT',
    default: 'kafkajs',
    help: `Kafka client library: ${KAFKA_ADAPTERS.join(', ')} (@platformatic/kafka; needed for KAFKA_GROUP_PROTOCOL=consumer and static membership)`,
    parse: oneOf(KAFKA_ADAPTERS),
  }),
  groupProtocol: variable({
    name: 'KAFKA_GROUP_PROTOCOL',
    default: 'classic',
    help: `Consumer group protocol: ${GROUP_PROTOCOLS.join(', ')} (KIP-848, Kafka 4.0+, KAFKA_CLIENT=platformatic)`,
    parse: oneOf(GROUP_PROTOCOLS),
  }),
  staticMembership: variable({
    name: 'KAFKA_STATIC_MEMBERSHIP',
    default: 'false',
    help: 'Static membership (KIP-345): the group instance id is KAFKA_GROUP_INSTANCE_ID, else POD_NAME (KAFKA_CLIENT=platformatic, classic protocol)',
    parse: boolean,
  }),
  groupInstanceId: variable({
    name: 'KAFKA_GROUP_INSTANCE_ID',
    default: (env) => {
      const on = boolean(env['KAFKA_STATIC_MEMBERSHIP'] ?? 'false');
      return on.ok && on.value ? nonEmpty(env['POD_NAME']) : undefined;
    },
    defaultText: 'POD_NAME with KAFKA_STATIC_MEMBERSHIP=true, else unset',
    help: 'group.instance.id, unique in the group (a StatefulSet pod name keeps it across restarts)',
    parse: identifier,
  }),
  kafkaTls: variable({
    name: 'KAFKA_TLS',
    default: (env) => (kafkaTlsFiles(env) ? 'true' : 'false'),
    defaultText: 'false (true with TLS files)',
    help: 'TLS to the brokers (SSL, SASL_SSL); on with KAFKA_CA_FILE or KAFKA_CERT_FILE; without a CA file, the system CAs',
    parse: boolean,
  }),
  kafkaCaFile: variable({
    name: 'KAFKA_CA_FILE',
    default: undefined,
    help: 'CA bundle to verify the brokers’ certificates (turns KAFKA_TLS on)',
    parse: readableFile,
  }),
  kafkaCertFile: variable({
    name: 'KAFKA_CERT_FILE',
    default: undefined,
    help: 'Client certificate for brokers that want one (with KAFKA_KEY_FILE)',
    parse: readableFile,
  }),
  kafkaKeyFile: variable({
    name: 'KAFKA_KEY_FILE',
    default: undefined,
    help: 'Client key for brokers that want one (with KAFKA_CERT_FILE)',
    parse: readableFile,
  }),
  kafkaSaslMechanism: variable({
    name: 'KAFKA_SASL_MECHANISM',
    default: undefined,
    help: `SASL authentication: ${SASL_MECHANISMS.join(', ')} (with KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)`,
    parse: oneOf(SASL_MECHANISMS),
  }),
  kafkaSaslUsername: variable({
    name: 'KAFKA_SASL_USERNAME',
    default: undefined,
    help: 'SASL user (with KAFKA_SASL_MECHANISM)',
    parse: text,
  }),
  kafkaSaslPassword: variable({
    name: 'KAFKA_SASL_PASSWORD',
    default: undefined,
    help: 'SASL password (with KAFKA_SASL_MECHANISM; never logged)',
    parse: (raw: string) => ok(raw),
  }),
  etcdUnavailable: variable({
    name: 'ETCD_UNAVAILABLE',
    default: 'keep',
    help: 'While etcd cannot be reached: keep the last known state, or enter maintenance',
    parse: oneOf(['keep', 'maintenance']),
  }),
  etcdCaFile: variable({
    name: 'ETCD_CA_FILE',
    default: undefined,
    help: 'CA bundle to verify etcd’s certificate (turns host:port endpoints into https)',
    parse: readableFile,
  }),
  etcdCertFile: variable({
    name: 'ETCD_CERT_FILE',
    default: undefined,
    help: 'Client certificate for etcd (with ETCD_KEY_FILE)',
    parse: readableFile,
  }),
  etcdKeyFile: variable({
    name: 'ETCD_KEY_FILE',
    default: undefined,
    help: 'Client key for etcd (with ETCD_CERT_FILE)',
    parse: readableFile,
  }),
  etcdUsername: variable({
    name: 'ETCD_USERNAME',
    default: undefined,
    help: 'etcd user (with ETCD_PASSWORD)',
    parse: text,
  }),
  etcdPassword: variable({
    name: 'ETCD_PASSWORD',
    default: undefined,
    help: 'etcd password (with ETCD_USERNAME)',
    parse: (raw: string) => ok(raw),
  }),
  shutdownGracePeriodMs: variable({
    name: 'SHUTDOWN_GRACE_PERIOD',
    default: '25s',
    help: 'On SIGTERM/SIGINT: drain, commit and exit within this time (keep it under the pod’s terminationGracePeriodSeconds)',
    parse: duration({ allowZero: false }),
  }),
  logLevel: variable({
    name: 'LOG_LEVEL',
    default: 'info',
    help: `Log level: ${LOG_LEVELS.join(', ')}`,
    parse: oneOf(LOG_LEVELS),
  }),
  messagesSend: variable({
    name: 'MESSAGES_SEND',
    default: 'enabled',
    help: 'POST /messages/send: enabled (open, the demo), disabled (403), token (401 without bearer MESSAGES_SEND_TOKEN)',
    parse: oneOf(['enabled', 'disabled', 'token']),
  }),
  messagesSendToken: variable({
    name: 'MESSAGES_SEND_TOKEN',
    default: undefined,
    help: 'Bearer token of POST /messages/send with MESSAGES_SEND=token (at least 16 characters; never logged)',
    parse: sendToken,
  }),
  messagesSendTokenFile: variable({
    name: 'MESSAGES_SEND_TOKEN_FILE',
    default: undefined,
    help: 'File with that token instead (a mounted Secret), read for every request: a rotated token applies at once',
    // The path is the setting; the token is read when a request is checked (readSendTokenFile).
    parse: (raw): Parsed<string> => {
      const path = raw.trim();
      const token = readSendTokenFile(path);
      return token.ok ? ok(path) : token;
    },
  }),
  simulatedWorkTimeMs: variable({
    name: 'SIMULATED_WORK_TIME',
    default: '0ms',
    help: 'The example handler waits this long per message, to make drains visible',
    parse: duration({ allowZero: true }),
  }),
};

type Schema = typeof schema;
type ValueOf<V> = V extends Variable<infer T> ? T : never;
type HasDefault<V> = V extends { default: undefined } ? false : true;

export type ServiceConfig = {
  readonly [K in keyof Schema]: HasDefault<Schema[K]> extends true
    ? ValueOf<Schema[K]>
    : ValueOf<Schema[K]> | undefined;
};

export interface ConfigProblem {
  variable: string;
  message: string;
}

/** Every problem of the environment at once, so one restart fixes them all. */
export class ConfigError extends KmaintError {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(
      'CONFIG_INVALID',
      `invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

/** Reads and validates the configuration; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Env = process.env): ServiceConfig {
  const problems: ConfigProblem[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(schema) as [string, Variable<unknown>][]) {
    const given = nonEmpty(env[spec.name]);
    const raw = given ?? (typeof spec.default === 'function' ? spec.default(env) : spec.default);
    if (raw === undefined) {
      config[key] = undefined;
      continue;
    }
    const parsed = spec.parse(raw, env);
    if (parsed.ok) config[key] = parsed.value;
    else problems.push({ variable: spec.name, message: parsed.error });
  }
  problems.push(...crossChecks(config as ServiceConfig, problems));
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config) as ServiceConfig;
}

/** Rules between variables; skipped for a variable that is already wrong on its own. */
function crossChecks(config: ServiceConfig, already: readonly ConfigProblem[]): ConfigProblem[] {
  const bad = new Set(already.map((p) => p.variable));
  const problems: ConfigProblem[] = [];
  const both = (a: keyof Schema, b: keyof Schema) => {
    const [va, vb] = [schema[a].name, schema[b].name];
    if (bad.has(va) || bad.has(vb)) return;
    if ((config[a] === undefined) !== (config[b] === undefined)) {
      const missing = config[a] === undefined ? va : vb;
      problems.push({ variable: missing, message: `must be set together with ${missing === va ? vb : va}` });
    }
  };
  both('etcdCertFile', 'etcdKeyFile');
  both('etcdUsername', 'etcdPassword');
  both('kafkaCertFile', 'kafkaKeyFile');
  if (
    config.staticMembership &&
    config.groupInstanceId === undefined &&
    !bad.has('KAFKA_GROUP_INSTANCE_ID')
  ) {
    problems.push({
      variable: 'KAFKA_GROUP_INSTANCE_ID',
      message: 'must be set (or POD_NAME, from the downward API) when KAFKA_STATIC_MEMBERSHIP=true',
    });
  }
  both('kafkaSaslUsername', 'kafkaSaslPassword');
  both('kafkaSaslMechanism', 'kafkaSaslUsername');
  if (!bad.has('KAFKA_TLS') && !config.kafkaTls) {
    for (const file of ['kafkaCaFile', 'kafkaCertFile'] as const) {
      if (config[file] !== undefined) {
        problems.push({ variable: 'KAFKA_TLS', message: `is false, but ${schema[file].name} asks for TLS` });
      }
    }
  }
  if (!bad.has('MESSAGES_SEND') && !bad.has('MESSAGES_SEND_TOKEN') && !bad.has('MESSAGES_SEND_TOKEN_FILE')) {
    const given = (['messagesSendToken', 'messagesSendTokenFile'] as const).filter(
      (k) => config[k] !== undefined,
    );
    if (config.messagesSend === 'token' && given.length === 0) {
      problems.push({
        variable: 'MESSAGES_SEND_TOKEN',
        message: 'must be set when MESSAGES_SEND=token (or MESSAGES_SEND_TOKEN_FILE)',
      });
    }
    if (given.length === 2) {
      problems.push({
        variable: 'MESSAGES_SEND_TOKEN_FILE',
        message: 'is set together with MESSAGES_SEND_TOKEN: set one of them',
      });
    }
    for (const k of config.messagesSend === 'token' ? [] : given) {
      // A token that protects nothing is a mistake to hear about, not an open endpoint to discover.
      problems.push({
        variable: schema[k].name,
        message: `is only used with MESSAGES_SEND=token (MESSAGES_SEND is ${config.messagesSend})`,
      });
    }
  }
  if (
    !bad.has('KAFKA_HEARTBEAT_INTERVAL') &&
    !bad.has('KAFKA_SESSION_TIMEOUT') &&
    config.heartbeatIntervalMs >= config.sessionTimeoutMs
  ) {
    problems.push({
      variable: 'KAFKA_HEARTBEAT_INTERVAL',
      message: `must be shorter than KAFKA_SESSION_TIMEOUT (${formatDuration(config.sessionTimeoutMs)})`,
    });
  }
  return problems;
}

/** The --help text: every variable with its default, generated from the schema so it cannot drift. */
export function helpText(): string {
  const rows = describeVariables().map((v) => ({ ...v, def: v.default ?? '(unset)' }));
  const nameWidth = Math.max(...rows.map((r) => r.name.length));
  const defWidth = Math.max(...rows.map((r) => r.def.length));
  return [
    'kmaint-service: a Kafka consumer that drains, commits and leaves its group while an etcd key says so.',
    '',
    'Usage: npm start -w service  (built: node service/dist/main.js); configured only through the environment',
    '',
    `${'VARIABLE'.padEnd(nameWidth)}  ${'DEFAULT'.padEnd(defWidth)}  DESCRIPTION`,
    ...rows.map((r) => `${r.name.padEnd(nameWidth)}  ${r.def.padEnd(defWidth)}  ${r.help}`),
    '',
    'Durations are Go-style (250ms, 45s, 1m30s) or plain milliseconds. Empty values count as unset.',
    '',
  ].join('\n');
}

/** Each variable's name, default (as text) and description: for the README table and tests. */
export function describeVariables(): { name: string; default: string | undefined; help: string }[] {
  return Object.values(schema).map((spec: Variable<unknown>) => ({
    name: spec.name,
    default: spec.defaultText ?? (typeof spec.default === 'string' ? spec.default : undefined),
    help: spec.help,
  }));
}
