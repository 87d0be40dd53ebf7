import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeVariables, helpText, loadConfig } from '../../../src/config.ts';

function problemsOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('defaults', () => {
  it('equal GoMaint’s (its README "Configuration" and Go Config defaults)', () => {
    expect(loadConfig({})).toEqual({
      kafkaBrokers: ['kafka:29092'],
      kafkaTopics: ['test-topic', 'user-events', 'system-logs'],
      consumerGroup: 'gomaint-consumer-group',
      etcdEndpoints: ['http://etcd:2379'],
      httpPort: 8083,
      maintenanceKey: '/maintenance/kafka-service',
      podName: undefined,
      podNamespace: undefined,
      memberId: hostname(),
      clientId: 'kmaint-service',
      batchSize: 100,
      sessionTimeoutMs: 30_000,
      heartbeatIntervalMs: 3_000,
      drainTimeoutMs: 45_000,
      maxProcessingTimeMs: 30_000,
      offsetInitial: 'oldest',
      enableAutoCommit: false,
      autoCommitIntervalMs: 5_000,
      retryBackoffMs: 100,
      maxRetries: 3,
      maxWorkers: 5,
      orderBy: 'partition',
      dlqTopicSuffix: '.dlq',
      kafkaClient: 'kafkajs',
      groupProtocol: 'classic',
      staticMembership: false,
      groupInstanceId: undefined,
      kafkaTls: false,
      kafkaCaFile: undefined,
      kafkaCertFile: undefined,
      kafkaKeyFile: undefined,
      kafkaSaslMechanism: undefined,
      kafkaSaslUsername: undefined,
      kafkaSaslPassword: undefined,
      etcdUnavailable: 'keep',
      etcdCaFile: undefined,
      etcdCertFile: undefined,
      etcdKeyFile: undefined,
      etcdUsername: undefined,
      etcdPassword: undefined,
      shutdownGracePeriodMs: 25_000,
      logLevel: 'info',
      messagesSend: 'enabled',
      messagesSendToken: undefined,
      messagesSendTokenFile: undefined,
      simulatedWorkTimeMs: 0,
    });
  });

  it('keeps the grace period under Kubernetes’ default 30 s', () => {
    expect(loadConfig({}).shutdownGracePeriodMs).toBeLessThan(30_000);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ KAFKA_TOPICS: '', HTTP_PORT: ' ' }).httpPort).toBe(8083);
  });

  it('takes the member id from POD_NAME, then MEMBER_ID', () => {
    expect(loadConfig({ POD_NAME: 'svc-7f9-abc' }).memberId).toBe('svc-7f9-abc');
    expect(loadConfig({ POD_NAME: 'svc-7f9-abc', MEMBER_ID: 'm1' }).memberId).toBe('m1');
  });
});

describe('values', () => {
  it('reads GoMaint’s manual-setup exports', () => {
    const config = loadConfig({
      KAFKA_BROKERS: 'localhost:9092',
      KAFKA_TOPICS: 'test-topic,user-events,system-logs',
      KAFKA_CONSUMER_GROUP: 'gomaint-consumer-group',
      ETCD_ENDPOINTS: 'localhost:2401',
    });
    expect(config.kafkaBrokers).toEqual(['localhost:9092']);
    expect(config.etcdEndpoints).toEqual(['http://localhost:2401']);
  });

  it('accepts etcd endpoints as host:port and as URLs, mixed', () => {
    expect(
      loadConfig({
        ETCD_ENDPOINTS: 'etcd-0:2379, http://10.0.0.2:2379,https://etcd.example:2379/,[::1]:2379,http://e',
      }).etcdEndpoints,
    ).toEqual([
      'http://etcd-0:2379',
      'http://10.0.0.2:2379',
      'https://etcd.example:2379',
      'http://[::1]:2379',
      'http://e:2379',
    ]);
  });

  it('speaks https to host:port endpoints when TLS is configured', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-config-'));
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, 'not checked here');
    const config = loadConfig({ ETCD_ENDPOINTS: 'etcd:2379', ETCD_CA_FILE: ca });
    expect(config.etcdEndpoints).toEqual(['https://etcd:2379']);
    expect(config.etcdCaFile).toBe(ca);
  });

  it('reads Go durations and plain milliseconds', () => {
    const config = loadConfig({ DRAIN_TIMEOUT: '1m30s', RETRY_BACKOFF: '250', SIMULATED_WORK_TIME: '1.5s' });
    expect([config.drainTimeoutMs, config.retryBackoffMs, config.simulatedWorkTimeMs]).toEqual([
      90_000, 250, 1500,
    ]);
  });

  it('reads booleans, enums and lists leniently where nothing is lost', () => {
    const config = loadConfig({
      KAFKA_ENABLE_AUTO_COMMIT: 'TRUE',
      KAFKA_OFFSET_INITIAL: 'Newest',
      KAFKA_TOPICS: 'a, b,,a,',
      LOG_LEVEL: 'DEBUG',
    });
    expect(config.enableAutoCommit).toBe(true);
    expect(config.offsetInitial).toBe('newest');
    expect(config.kafkaTopics).toEqual(['a', 'b']);
    expect(config.logLevel).toBe('debug');
  });
});

describe('bad values', () => {
  const cases: [string, string, string][] = [
    ['KAFKA_BROKERS', 'kafka', 'not host:port'],
    ['KAFKA_BROKERS', 'kafka:99999', 'outside 1-65535'],
    ['KAFKA_BROKERS', ',', 'at least one'],
    ['KAFKA_TOPICS', 'good,bad topic', 'not a valid Kafka topic name'],
    ['KAFKA_CONSUMER_GROUP', 'a group', 'letters, digits'],
    ['ETCD_ENDPOINTS', 'etcd', 'neither host:port nor'],
    ['ETCD_ENDPOINTS', 'grpc://etcd:2379', 'http:// or https://'],
    ['ETCD_ENDPOINTS', 'http://etcd:2379/v3', 'without path'],
    ['HTTP_PORT', '80a', 'whole number'],
    ['HTTP_PORT', '70000', 'between 0 and 65535'],
    ['MAINTENANCE_KEY', 'maintenance/kafka-service', 'etcd key'],
    ['MEMBER_ID', 'a/b', 'letters, digits'],
    ['KAFKA_CLIENT_ID', 'x y', 'letters, digits'],
    ['KAFKA_BATCH_SIZE', '0', 'between 1'],
    ['KAFKA_SESSION_TIMEOUT', '30 seconds', 'not a duration'],
    ['KAFKA_HEARTBEAT_INTERVAL', '-3s', 'not a duration'],
    ['DRAIN_TIMEOUT', '0s', 'longer than 0'],
    ['MAX_PROCESSING_TIME', 'forever', 'not a duration'],
    ['KAFKA_OFFSET_INITIAL', 'latest', 'one of oldest, newest'],
    ['KAFKA_ENABLE_AUTO_COMMIT', 'maybe', 'true or false'],
    ['KAFKA_AUTO_COMMIT_INTERVAL', '5x', 'not a duration'],
    ['RETRY_BACKOFF', 'fast', 'not a duration'],
    ['MAX_RETRIES', '-1', 'between 0 and 1000'],
    ['MAX_RETRIES', '2.5', 'whole number'],
    ['MAX_WORKERS', '0', 'between 1'],
    ['ORDER_BY', 'offset', 'one of partition, key'],
    ['DLQ_TOPIC_SUFFIX', '/dlq', 'letters, digits'],
    ['ETCD_UNAVAILABLE', 'panic', 'one of keep, maintenance'],
    ['ETCD_CA_FILE', '/nonexistent/ca.pem', 'cannot read file'],
    ['ETCD_CERT_FILE', '/nonexistent/cert.pem', 'cannot read file'],
    ['ETCD_KEY_FILE', '/nonexistent/key.pem', 'cannot read file'],
    ['SHUTDOWN_GRACE_PERIOD', '0', 'longer than 0'],
    ['LOG_LEVEL', 'verbose', 'one of fatal'],
    ['SIMULATED_WORK_TIME', 'a while', 'not a duration'],
    ['MESSAGES_SEND', 'open', 'one of enabled, disabled, token'],
    ['KAFKA_CLIENT', 'rdkafka', 'one of kafkajs, platformatic'],
    ['KAFKA_GROUP_PROTOCOL', 'share', 'one of classic, consumer'],
    ['KAFKA_STATIC_MEMBERSHIP', 'perhaps', 'true or false'],
    ['KAFKA_GROUP_INSTANCE_ID', 'a pod', 'letters'],
    ['KAFKA_TLS', 'maybe', 'true or false'],
    ['KAFKA_CA_FILE', '/nonexistent/ca.pem', 'cannot read file'],
    ['KAFKA_CERT_FILE', '/nonexistent/cert.pem', 'cannot read file'],
    ['KAFKA_KEY_FILE', '/nonexistent/key.pem', 'cannot read file'],
    ['KAFKA_SASL_MECHANISM', 'gssapi', 'one of plain, scram-sha-256, scram-sha-512'],
    ['MESSAGES_SEND_TOKEN', 'short', 'at least 16 characters'],
    ['MESSAGES_SEND_TOKEN_FILE', '/nonexistent/send-token', 'cannot read file "/nonexistent/send-token"'],
  ];

  it.each(cases)('%s=%s is rejected with its name', (name, value, fragment) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toContainEqual({ variable: name, message: expect.stringContaining(fragment) });
  });

  it('covers every variable that takes a value with at least one bad case', () => {
    const free = new Set([
      'POD_NAME',
      'POD_NAMESPACE',
      'ETCD_USERNAME',
      'ETCD_PASSWORD',
      'KAFKA_SASL_USERNAME',
      'KAFKA_SASL_PASSWORD',
    ]);
    const covered = new Set(cases.map(([name]) => name));
    for (const { name } of describeVariables()) if (!free.has(name)) expect(covered).toContain(name);
  });

  it('reports every problem at once, in the error message too', () => {
    const env = Object.fromEntries(cases.map(([name, value]) => [name, value]));
    const problems = problemsOf(env);
    expect(new Set(problems.map((p) => p.variable))).toEqual(new Set(cases.map(([name]) => name)));
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as ConfigError).code).toBe('CONFIG_INVALID');
      expect((err as ConfigError).retriable).toBe(false);
      for (const [name] of cases) expect((err as Error).message).toContain(`${name}: `);
    }
  });

  it('wants the heartbeat shorter than the session timeout', () => {
    expect(problemsOf({ KAFKA_SESSION_TIMEOUT: '3s', KAFKA_HEARTBEAT_INTERVAL: '3s' })).toEqual([
      { variable: 'KAFKA_HEARTBEAT_INTERVAL', message: 'must be shorter than KAFKA_SESSION_TIMEOUT (3s)' },
    ]);
  });

  it('wants etcd client cert and key, user and password, in pairs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-config-'));
    const cert = join(dir, 'cert.pem');
    writeFileSync(cert, '');
    expect(problemsOf({ ETCD_CERT_FILE: cert, ETCD_PASSWORD: 'secret' })).toEqual([
      { variable: 'ETCD_KEY_FILE', message: 'must be set together with ETCD_CERT_FILE' },
      { variable: 'ETCD_USERNAME', message: 'must be set together with ETCD_PASSWORD' },
    ]);
  });

  it('wants Kafka client cert and key, and SASL mechanism, user and password, together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-config-'));
    const cert = join(dir, 'cert.pem');
    writeFileSync(cert, '');
    expect(problemsOf({ KAFKA_CERT_FILE: cert, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512' })).toEqual([
      { variable: 'KAFKA_KEY_FILE', message: 'must be set together with KAFKA_CERT_FILE' },
      { variable: 'KAFKA_SASL_USERNAME', message: 'must be set together with KAFKA_SASL_MECHANISM' },
    ]);
    expect(problemsOf({ KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' })).toEqual([
      { variable: 'KAFKA_SASL_MECHANISM', message: 'must be set together with KAFKA_SASL_USERNAME' },
    ]);
    expect(problemsOf({ KAFKA_TLS: 'false', KAFKA_CA_FILE: cert })).toEqual([
      { variable: 'KAFKA_TLS', message: 'is false, but KAFKA_CA_FILE asks for TLS' },
    ]);
  });

  it('turns Kafka TLS on with a CA file, and reads SASL in any case', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-config-'));
    const ca = join(dir, 'ca.pem');
    writeFileSync(ca, '');
    expect(
      loadConfig({
        KAFKA_CA_FILE: ca,
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
        KAFKA_SASL_USERNAME: 'orders',
        KAFKA_SASL_PASSWORD: ' secret ',
      }),
    ).toMatchObject({
      kafkaTls: true,
      kafkaCaFile: ca,
      kafkaSaslMechanism: 'scram-sha-256',
      kafkaSaslUsername: 'orders',
      kafkaSaslPassword: ' secret ',
    });
    expect(loadConfig({ KAFKA_TLS: 'true' }).kafkaTls).toBe(true);
  });

  it('never echoes the SASL password', () => {
    expect(JSON.stringify(problemsOf({ KAFKA_SASL_PASSWORD: 'hunter2' }))).not.toContain('hunter2');
  });

  it('wants a token with MESSAGES_SEND=token, and no token without it', () => {
    expect(problemsOf({ MESSAGES_SEND: 'token' })).toEqual([
      {
        variable: 'MESSAGES_SEND_TOKEN',
        message: 'must be set when MESSAGES_SEND=token (or MESSAGES_SEND_TOKEN_FILE)',
      },
    ]);
    expect(problemsOf({ MESSAGES_SEND_TOKEN: 'a-token-of-16-chars' })).toEqual([
      {
        variable: 'MESSAGES_SEND_TOKEN',
        message: 'is only used with MESSAGES_SEND=token (MESSAGES_SEND is enabled)',
      },
    ]);
    expect(
      loadConfig({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN: ' a-token-of-16-chars ' }),
    ).toMatchObject({
      messagesSend: 'token',
      messagesSendToken: 'a-token-of-16-chars',
    });
    expect(loadConfig({}).messagesSend).toBe('enabled');
  });

  it('takes the token from MESSAGES_SEND_TOKEN_FILE: a readable file with a token, one way or the other', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-config-token-'));
    try {
      const file = join(dir, 'token');
      writeFileSync(file, 'a-token-of-16-chars\n');
      expect(loadConfig({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN_FILE: ` ${file} ` })).toMatchObject({
        messagesSendToken: undefined,
        messagesSendTokenFile: file,
      });
      expect(problemsOf({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN_FILE: join(dir, 'none') })).toEqual([
        { variable: 'MESSAGES_SEND_TOKEN_FILE', message: `cannot read file "${join(dir, 'none')}"` },
      ]);
      const short = join(dir, 'short');
      writeFileSync(short, 'short-secret\n');
      const problems = problemsOf({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN_FILE: short });
      expect(problems).toEqual([
        {
          variable: 'MESSAGES_SEND_TOKEN_FILE',
          message: `the token in "${short}" must be at least 16 characters`,
        },
      ]);
      expect(JSON.stringify(problems)).not.toContain('short-secret');
      expect(
        problemsOf({
          MESSAGES_SEND: 'token',
          MESSAGES_SEND_TOKEN: 'a-token-of-16-chars',
          MESSAGES_SEND_TOKEN_FILE: file,
        }),
      ).toEqual([
        {
          variable: 'MESSAGES_SEND_TOKEN_FILE',
          message: 'is set together with MESSAGES_SEND_TOKEN: set one of them',
        },
      ]);
      expect(problemsOf({ MESSAGES_SEND: 'disabled', MESSAGES_SEND_TOKEN_FILE: file })).toEqual([
        {
          variable: 'MESSAGES_SEND_TOKEN_FILE',
          message: 'is only used with MESSAGES_SEND=token (MESSAGES_SEND is disabled)',
        },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never echoes the send token', () => {
    expect(
      JSON.stringify(problemsOf({ MESSAGES_SEND: 'token', MESSAGES_SEND_TOKEN: 'short-secret' })),
    ).not.toContain('short-secret');
  });

  it('never echoes the etcd password', () => {
    expect(JSON.stringify(problemsOf({ ETCD_PASSWORD: 'hunter2' }))).not.toContain('hunter2');
  });
});

describe('--help', () => {
  it('lists every variable with its default', () => {
    const help = helpText();
    for (const v of describeVariables()) {
      const line = help.split('\n').find((l) => l.startsWith(`${v.name} `));
      expect(line, v.name).toBeDefined();
      expect(line).toContain(v.default ?? '(unset)');
    }
    expect(help).toMatch(/^KAFKA_BROKERS +kafka:29092 /m);
    expect(help).toMatch(/^MEMBER_ID +POD_NAME, else the host name /m);
  });
});

describe('README', () => {
  it('documents every variable with the default the code uses', () => {
    const readme = readFileSync(new URL('../../../../README.md', import.meta.url), 'utf8');
    for (const v of describeVariables()) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${v.name}\` `));
      expect(row, `README row for ${v.name}`).toBeDefined();
      const cell = row?.split('|')[2]?.trim().replace(/^`|`$/g, '');
      expect(cell, v.name).toBe(v.default ?? '—');
    }
  });
});
