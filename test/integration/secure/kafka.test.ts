import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createConsumer,
  KAFKA_ADAPTERS,
  KmaintError,
  type KafkaAdapter,
  type KafkaSasl,
  type KafkaTls,
} from '@kmaint/consumer';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { repoRoot, run, type Running } from '../../../agent/test/integration/support.ts';
import { ServiceProcess } from '../../../service/test/integration/api/service-process.ts';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { createTopicsWithLeaders } from '../../env/kafka.ts';
import { startSecureKafka, type SecureKafka } from '../../env/secure-kafka.ts';

/**
 * Kafka with TLS and SASL, on a broker of its own (SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512,
 * and an SSL listener that wants a client certificate): the library and the service consume and produce
 * through each, on each Kafka client (kafkajs and @platformatic/kafka); a wrong password and a
 * certificate from an untrusted CA end the start with the same error code and message on both, and the
 * password is never written out.
 */

let kafka: SecureKafka;
let admin: Admin;
let producer: Producer;
const topic = uniqueName('secure-kafka');

beforeAll(async () => {
  kafka = await startSecureKafka(mkdtempSync(join(tmpdir(), 'kmaint-kafka-secure-')));
  const plain = new Kafka({ clientId: 'secure-tests', brokers: [kafka.plaintext], logLevel: logLevel.ERROR });
  admin = plain.admin();
  producer = plain.producer();
  await Promise.all([admin.connect(), producer.connect()]);
  await createTopicsWithLeaders(admin, [{ topic, numPartitions: 1 }]);
}, 240_000);

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await kafka?.stop();
});

const sasl = (mechanism: KafkaSasl['mechanism'], password = kafka.password): KafkaSasl => ({
  mechanism,
  username: kafka.username,
  password,
});

function consumer(
  adapter: KafkaAdapter,
  brokers: string,
  tls: KafkaTls,
  auth?: KafkaSasl,
  received: string[] = [],
) {
  return createConsumer({
    kafka: { brokers: [brokers], adapter, tls, ...(auth ? { sasl: auth } : {}), maxWaitTimeMs: 500 },
    groupId: uniqueName('secure-kafka'),
    topics: [topic],
    handler: async (message) => {
      received.push(message.value?.toString() ?? '');
    },
    maintenance: { etcd: { endpoints: [inject('etcdEndpoints')] }, key: `/maintenance/${uniqueName('sk')}` },
    logger: pino({ level: 'silent' }),
  });
}

/** Consumes a message produced from outside and produces one itself, over the given connection. */
async function roundTrip(
  adapter: KafkaAdapter,
  brokers: string,
  tls: KafkaTls,
  auth?: KafkaSasl,
): Promise<void> {
  const received: string[] = [];
  const c = consumer(adapter, brokers, tls, auth, received);
  await c.start();
  try {
    const outside = uniqueName('outside');
    await producer.send({ topic, messages: [{ value: outside }] });
    const inside = uniqueName('inside');
    await c.send(topic, inside);
    await waitFor(() => received.includes(outside) && received.includes(inside), {
      timeoutMs: 60_000,
      message: `both messages over ${brokers} (got ${received.length})`,
    });
  } finally {
    await c.stop();
  }
}

describe.each(KAFKA_ADAPTERS)('the library (createConsumer) on %s over TLS and SASL', (adapter) => {
  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('SASL_SSL with %s', async (mechanism) => {
    await roundTrip(adapter, kafka.saslSsl, { caFile: kafka.certs.caFile }, sasl(mechanism));
  });

  it('SSL with a client certificate', async () => {
    const { caFile, clientCertFile: certFile, clientKeyFile: keyFile } = kafka.certs;
    await roundTrip(adapter, kafka.mtls, { caFile, certFile, keyFile });
  });

  it.each([
    [
      'a wrong password',
      () => consumer(adapter, kafka.saslSsl, { caFile: kafka.certs.caFile }, sasl('scram-sha-512', 'wrong')),
      'KAFKA_AUTH',
      'Kafka refused the SASL user "kmaint" (scram-sha-512',
    ],
    [
      'a wrong PLAIN password',
      () => consumer(adapter, kafka.saslSsl, { caFile: kafka.certs.caFile }, sasl('plain', 'wrong')),
      'KAFKA_AUTH',
      'Kafka refused the SASL user "kmaint" (plain',
    ],
    [
      'an untrusted broker certificate',
      () => consumer(adapter, kafka.saslSsl, { caFile: kafka.certs.otherCaFile }, sasl('scram-sha-512')),
      'KAFKA_TLS',
      "the Kafka broker's certificate is not trusted: it is not signed by the CA in",
    ],
    [
      'no client certificate where one is wanted',
      () => consumer(adapter, kafka.mtls, { caFile: kafka.certs.caFile }),
      'KAFKA_TLS',
      'the Kafka broker wants a client certificate',
    ],
  ])('%s: start() rejects with a KmaintError naming it', async (_label, make, code, says) => {
    const c = make();
    const err = await c.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KmaintError);
    expect((err as KmaintError).code).toBe(code);
    expect((err as Error).message).toContain(says);
    await c.stop();
  });
});

describe.each(KAFKA_ADAPTERS)('the service on %s over SASL_SSL', (adapter) => {
  const env = (password: string, caFile: string) => ({
    KAFKA_CLIENT: adapter,
    KAFKA_BROKERS: kafka.saslSsl,
    KAFKA_TOPICS: topic,
    KAFKA_CONSUMER_GROUP: uniqueName('secure-kafka-svc'),
    MAINTENANCE_KEY: `/maintenance/${uniqueName('sk-svc')}`,
    KAFKA_CA_FILE: caFile,
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
    KAFKA_SASL_USERNAME: kafka.username,
    KAFKA_SASL_PASSWORD: password,
    LOG_LEVEL: 'debug',
  });

  it('consumes and produces, and never writes the password out', async () => {
    const service = await ServiceProcess.start(env(kafka.password, kafka.certs.caFile));
    try {
      await waitFor(async () => (await service.get('/readyz')).status === 200, {
        timeoutMs: 60_000,
        message: 'the service to consume over SASL_SSL',
      });
      const sent = await service.post('/messages/send', JSON.stringify({ topic, message: 'over SASL_SSL' }));
      expect(sent.status).toBe(200);
      await waitFor(async () => (await service.get('/messages/stats')).body.kafka.processed >= 1, {
        message: 'the service to process a message',
      });
    } finally {
      await service.kill();
    }
    const output = [...service.logs.map((l) => JSON.stringify(l)), ...service.stderr].join('\n');
    expect(output).not.toContain(kafka.password);
  });

  /** The service must refuse to start: its exit code and the message of its fatal line. */
  async function failedStart(
    e: Record<string, string>,
  ): Promise<{ code: number | null; fatal: string; output: string }> {
    const proc: Running = run(
      join(repoRoot, 'node_modules/.bin/node'),
      ['--conditions=@kmaint/source', 'service/src/main.ts'],
      {
        ETCD_ENDPOINTS: inject('etcdEndpoints'),
        HTTP_PORT: '0',
        ...e,
      },
    );
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), 60_000);
    const code = await proc.exited;
    clearTimeout(timer);
    const lines = proc.output
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const fatal = lines.find((l) => l['level'] === 'fatal')?.['msg'];
    return { code, fatal: String(fatal), output: proc.output.join('\n') };
  }

  it('a wrong password: exits 1 naming the user and mechanism, not the password', async () => {
    const wrong = `${kafka.password}-wrong`;
    const result = await failedStart(env(wrong, kafka.certs.caFile));
    expect(result.code, result.output).toBe(1);
    expect(result.fatal, result.output).toContain('Kafka refused the SASL user "kmaint" (scram-sha-256');
    expect(result.output).not.toContain(wrong);
  });

  it('an untrusted broker certificate: exits 1 naming the CA file', async () => {
    const result = await failedStart(env(kafka.password, kafka.certs.otherCaFile));
    expect(result.code, result.output).toBe(1);
    expect(result.fatal, result.output).toContain(
      `the Kafka broker's certificate is not trusted: it is not signed by the CA in ${kafka.certs.otherCaFile}`,
    );
  });
});
