import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KmaintError } from '@kmaint/common';
import { kafkajsSecurity, kafkaSettingsProblem } from '../../src/kafka/security.ts';
import { toEngineOptions, validateOptions, type ConsumerOptions } from '../../src/options.ts';

const named = (name: string, message: string, cause?: unknown): Error =>
  Object.assign(new Error(message, cause === undefined ? undefined : { cause }), { name });

describe('kafkajsSecurity', () => {
  it('reads the TLS files once and passes SASL as kafkajs wants it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-kafka-tls-'));
    const [ca, cert, key] = ['ca', 'cert', 'key'].map((n) => {
      const path = join(dir, `${n}.pem`);
      writeFileSync(path, `${n} pem`);
      return path;
    }) as [string, string, string];
    const out = kafkajsSecurity({
      tls: { caFile: ca, certFile: cert, keyFile: key },
      sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' },
    });
    expect(out.ssl).toEqual({
      ca: [Buffer.from('ca pem')],
      cert: Buffer.from('cert pem'),
      key: Buffer.from('key pem'),
    });
    expect(out.sasl).toEqual({ mechanism: 'scram-sha-256', username: 'u', password: 'p' });
    expect(kafkajsSecurity({ tls: true })).toEqual({ ssl: true });
    expect(kafkajsSecurity({})).toEqual({});
  });

  it('names an unreadable file', () => {
    expect(() => kafkajsSecurity({ tls: { caFile: '/nonexistent/ca.pem' } })).toThrow(
      /the Kafka CA file: cannot read \/nonexistent\/ca.pem/,
    );
  });
});

describe('kafkaSettingsProblem', () => {
  const sasl = { mechanism: 'scram-sha-512' as const, username: 'orders', password: 'hunter2' };

  it('a refused SASL login names the user and mechanism, never the password', () => {
    const refused = named(
      'KafkaJSNumberOfRetriesExceeded',
      'outer',
      named(
        'KafkaJSSASLAuthenticationError',
        'SASL SCRAM SHA512 authentication failed: Authentication failed',
      ),
    );
    const problem = kafkaSettingsProblem(refused, { sasl });
    expect(problem).toBeInstanceOf(KmaintError);
    expect(problem?.code).toBe('KAFKA_AUTH');
    expect(problem?.retriable).toBe(false);
    expect(problem?.message).toBe(
      'Kafka refused the SASL user "orders" (scram-sha-512) (KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, ' +
        'KAFKA_SASL_PASSWORD): SASL SCRAM SHA512 authentication failed: Authentication failed',
    );
    expect(problem?.message).not.toContain('hunter2');
  });

  it('an untrusted broker certificate names the CA file', () => {
    const untrusted = named(
      'KafkaJSConnectionError',
      'Connection error: unable to verify the first certificate',
    );
    expect(kafkaSettingsProblem(untrusted, { tls: { caFile: '/etc/ca.crt' } })?.message).toBe(
      "the Kafka broker's certificate is not trusted: it is not signed by the CA in /etc/ca.crt (KAFKA_CA_FILE): " +
        'Connection error: unable to verify the first certificate',
    );
  });

  it('a broker that wants a client certificate says so', () => {
    const wanted = named('KafkaJSConnectionError', 'Connection error: ... alert certificate required ...');
    expect(kafkaSettingsProblem(wanted, { tls: true })?.message).toMatch(
      /^the Kafka broker wants a client certificate \(KAFKA_CERT_FILE, KAFKA_KEY_FILE\)/,
    );
  });

  it('a broker that is down is no settings problem', () => {
    expect(
      kafkaSettingsProblem(named('KafkaJSConnectionError', 'Connection error: connect ECONNREFUSED'), {}),
    ).toBe(undefined);
  });
});

describe('kafka.tls and kafka.sasl options', () => {
  const base: ConsumerOptions = {
    kafka: { brokers: ['k:9093'] },
    groupId: 'g',
    topics: ['t'],
    handler: async () => undefined,
    maintenance: { etcd: { endpoints: ['e:2379'] }, key: '/maintenance/t' },
  };
  const withKafka = (kafka: object): ConsumerOptions => ({
    ...base,
    kafka: { brokers: ['k:9093'], ...kafka },
  });

  it('reach the engine', () => {
    const sasl = { mechanism: 'plain' as const, username: 'u', password: 'p' };
    expect(toEngineOptions(withKafka({ tls: true, sasl })).kafka).toMatchObject({ tls: true, sasl });
    expect('tls' in toEngineOptions(base).kafka).toBe(false);
  });

  it.each([
    [
      { sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } },
      'kafka.sasl.mechanism must be one of plain',
    ],
    [{ sasl: { mechanism: 'plain', username: '', password: 'p' } }, 'kafka.sasl needs a non-empty username'],
    [{ tls: { certFile: '/c.pem' } }, 'kafka.tls.certFile and kafka.tls.keyFile go together'],
    [{ tls: 'yes' }, 'kafka.tls must be true, false or'],
  ])('refuse %j', (kafka, message) => {
    expect(() => validateOptions(withKafka(kafka))).toThrow(message);
  });
});
