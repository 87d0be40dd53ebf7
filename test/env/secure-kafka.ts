import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { envConfig } from './config.ts';
import { EnvError } from './errors.ts';
import {
  brokerAnswers,
  brokerLogging,
  ensureKafkaLibs,
  randomClusterId,
  singleNodeProperties,
} from './kafka.ts';
import { freePort, portOpen } from './ports.ts';
import { Supervised } from './supervisor.ts';
import { makeCertificates, type TestCertificates } from './tls.ts';

const run = promisify(execFile);

/**
 * A second KRaft broker with secured listeners, started by the test file that needs it (once per file:
 * it costs a JVM; the shared broker stays PLAINTEXT for everything else). Its certificates come from
 * makeCertificates (openssl), its key and trust stores are PKCS12 (openssl and keytool), and its SCRAM
 * credentials are written at format time (`kafka-storage format --add-scram`).
 */
export interface SecureKafka {
  /** `127.0.0.1:<port>`: SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for the user below. */
  saslSsl: string;
  /** `127.0.0.1:<port>`: SSL that wants a client certificate signed by the test CA (mutual TLS). */
  mtls: string;
  /** `127.0.0.1:<port>`: PLAINTEXT, for arranging topics from the test (and inter-broker traffic). */
  plaintext: string;
  certs: TestCertificates;
  username: string;
  password: string;
  logFile: string;
  stop(): Promise<void>;
}

const USER = 'kmaint';
const PASSWORD = 'kmaint-kafka-test-password';
const STORE_PASSWORD = 'kmaint-store-password';

async function tool(command: string, args: string[], code: string): Promise<void> {
  try {
    await run(command, args);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new EnvError(
      code,
      `${command} ${args[0]} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
      {
        cause: err,
      },
    );
  }
}

/** The broker's key store (its key and certificate chain) and trust store (the test CA), as PKCS12. */
async function stores(certs: TestCertificates): Promise<{ keystore: string; truststore: string }> {
  const keystore = join(certs.dir, 'broker.p12');
  const truststore = join(certs.dir, 'truststore.p12');
  await tool(
    'openssl',
    [
      'pkcs12',
      '-export',
      '-in',
      certs.serverCertFile,
      '-inkey',
      certs.serverKeyFile,
      '-certfile',
      certs.caFile,
      '-name',
      'broker',
      '-out',
      keystore,
      '-passout',
      `pass:${STORE_PASSWORD}`,
    ],
    'ENV_OPENSSL',
  );
  await tool(
    'keytool',
    [
      '-importcert',
      '-noprompt',
      '-alias',
      'kmaint-test-ca',
      '-file',
      certs.caFile,
      '-keystore',
      truststore,
      '-storetype',
      'PKCS12',
      '-storepass',
      STORE_PASSWORD,
    ],
    'ENV_KEYTOOL',
  );
  return { keystore, truststore };
}

/** Starts the secured broker in `dir` (certificates, stores, data and log there); resolves once it serves. */
export async function startSecureKafka(dir: string): Promise<SecureKafka> {
  const libs = await ensureKafkaLibs(envConfig.kafkaVersion);
  const certs = await makeCertificates(join(dir, 'certs'));
  const { keystore, truststore } = await stores(certs);
  const [plain, sasl, mtls, controller] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const props = join(dir, 'server.properties');
  const scram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controller}`,
      `listeners=PLAINTEXT://127.0.0.1:${plain},SASL_SSL://127.0.0.1:${sasl},SSL://127.0.0.1:${mtls},CONTROLLER://127.0.0.1:${controller}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${plain},SASL_SSL://127.0.0.1:${sasl},SSL://127.0.0.1:${mtls}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
      'sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
      `listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_${USER}="${PASSWORD}";`,
      `listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=${scram}`,
      `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=${scram}`,
      'ssl.keystore.type=PKCS12',
      `ssl.keystore.location=${keystore}`,
      `ssl.keystore.password=${STORE_PASSWORD}`,
      `ssl.key.password=${STORE_PASSWORD}`,
      'ssl.truststore.type=PKCS12',
      `ssl.truststore.location=${truststore}`,
      `ssl.truststore.password=${STORE_PASSWORD}`,
      'listener.name.ssl.ssl.client.auth=required',
      ...singleNodeProperties(dataDir),
      '',
    ].join('\n'),
  );
  const classpath = join(libs, '*');
  const jvm = [
    '-Xmx384m',
    '-Xms64m',
    '-XX:+UseSerialGC',
    ...brokerLogging(dir, 'WARN'),
    '-Djava.awt.headless=true',
  ];
  const credentials = ['SCRAM-SHA-256', 'SCRAM-SHA-512'].flatMap((m) => [
    '--add-scram',
    `${m}=[name=${USER},password=${PASSWORD}]`,
  ]);
  await tool(
    'java',
    [
      ...jvm,
      '-cp',
      classpath,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      randomClusterId(),
      '-c',
      props,
      ...credentials,
    ],
    'ENV_KAFKA_FORMAT',
  );
  const plaintext = `127.0.0.1:${plain}`;
  const logFile = join(dir, 'kafka-secure.log');
  const proc = new Supervised({
    name: 'kafka-secure',
    command: 'java',
    args: [...jvm, '-cp', classpath, 'kafka.Kafka', props],
    logFile,
    readyTimeoutMs: 180_000,
    stopTimeoutMs: 20_000,
    ready: async () => (await portOpen(plain)) && (await portOpen(sasl)) && (await brokerAnswers(plaintext)),
  });
  await proc.start();
  return {
    saslSsl: `127.0.0.1:${sasl}`,
    mtls: `127.0.0.1:${mtls}`,
    plaintext,
    certs,
    username: USER,
    password: PASSWORD,
    logFile,
    stop: () => proc.stop(),
  };
}
