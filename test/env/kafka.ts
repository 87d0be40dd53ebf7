import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel, type Admin, type ITopicConfig } from 'kafkajs';
import { envConfig } from './config.ts';
import { EnvError } from './errors.ts';
import { waitFor } from './helpers.ts';
import { freePort, portOpen, preferredPort } from './ports.ts';
import { Supervised } from './supervisor.ts';

const run = promisify(execFile);

function pom(version: string): string {
  const dep = (artifact: string) =>
    `<dependency><groupId>org.apache.kafka</groupId><artifactId>${artifact}</artifactId><version>${version}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kmaint.local</groupId>
  <artifactId>kafka-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>${dep('kafka_2.13')}${dep('kafka-tools')}</dependencies>
</project>
`;
}

/**
 * The broker's jars from Maven Central, cached per version. Written to a private folder and renamed
 * into place, so two runs fetching at once never see a half-filled libs folder.
 */
export async function ensureKafkaLibs(version = envConfig.kafkaVersion): Promise<string> {
  const home = join(envConfig.cacheDir, `kafka-${version}`);
  const libs = join(home, 'libs');
  if (existsSync(join(libs, '.complete'))) return libs;
  const work = join(home, `fetch-${process.pid}`);
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'pom.xml'), pom(version));
  try {
    await run(
      'mvn',
      [
        '-q',
        '-B',
        '-f',
        join(work, 'pom.xml'),
        'dependency:copy-dependencies',
        `-DoutputDirectory=${join(work, 'libs')}`,
      ],
      { maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new EnvError(
      'ENV_KAFKA_FETCH',
      `fetching Kafka ${version} jars failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
      {
        retriable: true,
        cause: err,
      },
    );
  }
  writeFileSync(join(work, 'libs', '.complete'), `${new Date().toISOString()}\n`);
  try {
    renameSync(join(work, 'libs'), libs);
  } catch (err) {
    if (!existsSync(join(libs, '.complete'))) throw err;
  }
  rmSync(work, { recursive: true, force: true });
  return libs;
}

export interface KafkaOptions {
  /** Folder for data, config and log of this broker (per run). */
  dir: string;
  libs: string;
  port?: number;
  heap?: string;
  /** Start quickly rather than run fast: C1 only (`npm run stack`, where start-up is all that is waited for). */
  quickStart?: boolean;
  /**
   * Also a listener on this address (the host's on the real node's pod network), advertised as that,
   * so a pod's client is sent back to an address it can reach.
   */
  podAddress?: string;
}

/** A single KRaft broker+controller; restart keeps its ports and data, as a rolling restart would. */
export class KafkaServer {
  readonly brokers: string;
  /** `<pod address>:<port>` of the pod listener, when started with a podAddress. */
  readonly podBrokers: string | undefined;
  readonly port: number;
  readonly logFile: string;
  readonly process: Supervised;

  private constructor(port: number, podBrokers: string | undefined, logFile: string, proc: Supervised) {
    this.port = port;
    this.brokers = `127.0.0.1:${port}`;
    this.podBrokers = podBrokers;
    this.logFile = logFile;
    this.process = proc;
  }

  static async start(opts: KafkaOptions): Promise<KafkaServer> {
    const port = opts.port ?? (await freePort());
    const controllerPort = await freePort();
    const podBrokers = opts.podAddress === undefined ? undefined : `${opts.podAddress}:${await freePort()}`;
    const pod = podBrokers === undefined ? [] : [`POD://${podBrokers}`];
    const dataDir = join(opts.dir, 'data');
    mkdirSync(dataDir, { recursive: true });
    const props = join(opts.dir, 'server.properties');
    writeFileSync(
      props,
      [
        'process.roles=broker,controller',
        'node.id=1',
        `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
        `listeners=${[`PLAINTEXT://127.0.0.1:${port}`, `CONTROLLER://127.0.0.1:${controllerPort}`, ...pod].join(',')}`,
        `advertised.listeners=${[`PLAINTEXT://127.0.0.1:${port}`, ...pod].join(',')}`,
        'controller.listener.names=CONTROLLER',
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,POD:PLAINTEXT',
        'inter.broker.listener.name=PLAINTEXT',
        'auto.create.topics.enable=true',
        ...singleNodeProperties(dataDir),
        '',
      ].join('\n'),
    );
    const classpath = join(opts.libs, '*');
    const jvm = [
      `-Xmx${opts.heap ?? '512m'}`,
      '-Xms128m',
      '-XX:+UseSerialGC',
      ...brokerLogging(opts.dir, 'INFO'),
      '-Djava.awt.headless=true',
      ...(opts.quickStart === true ? ['-XX:TieredStopAtLevel=1'] : []),
    ];
    const logFile = join(opts.dir, 'kafka.log');
    const clusterId = randomClusterId();
    try {
      await run('java', [
        ...jvm,
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        clusterId,
        '-c',
        props,
      ]);
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new EnvError(
        'ENV_KAFKA_FORMAT',
        `formatting Kafka storage failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
      );
    }
    const brokers = `127.0.0.1:${port}`;
    const proc = new Supervised({
      name: 'kafka',
      command: 'java',
      args: [...jvm, '-cp', classpath, 'kafka.Kafka', props],
      logFile,
      readyTimeoutMs: 180_000,
      stopTimeoutMs: 20_000,
      ready: async () => (await portOpen(port)) && (await brokerAnswers(brokers)),
    });
    await proc.start();
    return new KafkaServer(port, podBrokers, logFile, proc);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }

  start(): Promise<void> {
    return this.process.start();
  }

  restart(): Promise<void> {
    return this.process.restart();
  }

  kill(): Promise<void> {
    return this.process.kill();
  }
}

/**
 * A test broker's logging, to stdout (its Supervised log file), the root at `root` and Kafka's own classes
 * at WARN: written in `dir` for both lines (Kafka 4.x reads log4j2, 3.x log4j 1), and the JVM flags that
 * point at the files.
 */
export function brokerLogging(dir: string, root: 'INFO' | 'WARN'): string[] {
  const log4j2 = join(dir, 'log4j2.properties');
  writeFileSync(
    log4j2,
    'appender.out.type=Console\nappender.out.name=OUT\nappender.out.layout.type=PatternLayout\n' +
      `appender.out.layout.pattern=[%d] %p %m (%c)%n\nrootLogger.level=${root}\nrootLogger.appenderRef.out.ref=OUT\n` +
      'logger.kafka.name=org.apache.kafka\nlogger.kafka.level=WARN\n',
  );
  const log4j1 = join(dir, 'log4j.properties');
  writeFileSync(
    log4j1,
    `log4j.rootLogger=${root}, out\nlog4j.appender.out=org.apache.log4j.ConsoleAppender\n` +
      'log4j.appender.out.layout=org.apache.log4j.PatternLayout\nlog4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n' +
      'log4j.logger.org.apache.kafka=WARN\n',
  );
  return [`-Dlog4j2.configurationFile=${log4j2}`, `-Dlog4j.configuration=file:${log4j1}`];
}

/** What every one-node test broker has: its data folder, and internal topics sized for one node. */
export function singleNodeProperties(dataDir: string): string[] {
  return [
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    // KIP-848 groups reconcile by heartbeat at the broker's interval (5 s by default): as short as the
    // classic tests' own heartbeats, so a member's partitions move while its work still runs.
    'group.consumer.min.heartbeat.interval.ms=500',
    'group.consumer.heartbeat.interval.ms=500',
    'offsets.topic.replication.factor=1',
    // Fewer than the default 50 partitions: the first group in a run then starts much faster.
    'offsets.topic.num.partitions=5',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'default.replication.factor=1',
    'min.insync.replicas=1',
  ];
}

/** Whether a PLAINTEXT listener at `brokers` answers with a cluster that has a controller. */
export async function brokerAnswers(brokers: string): Promise<boolean> {
  const admin = new Kafka({
    clientId: 'kmaint-env-probe',
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 2000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0 && cluster.controller !== null && cluster.controller >= 0;
  } finally {
    await admin.disconnect();
  }
}

/**
 * Creates those of the topics that do not exist yet (false when none was missing) and returns once every
 * partition of each has a leader that answers for its offsets. kafkajs's own `waitForLeaders` gives up at
 * the first UNKNOWN_TOPIC_OR_PARTITION, which the broker answers when its controller has created a topic
 * that its metadata does not show yet: 54 of 200 creations by 8 concurrent callers on a busy 2-core
 * machine. Here that answer means "not yet". The probe is `fetchTopicOffsets`, which adds to the admin's
 * cached metadata; `fetchTopicMetadata` would replace that cache with these topics alone, under the feet
 * of a concurrent call on the same admin. The existing ones are left out first because kafkajs fails a
 * creation that mixes existing and new topics.
 */
export async function createTopicsWithLeaders(
  admin: Admin,
  topics: ITopicConfig[],
  timeoutMs = 30_000,
): Promise<boolean> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t) => !existing.has(t.topic));
  if (missing.length === 0) return false;
  const created = await admin.createTopics({ topics: missing, waitForLeaders: false });
  for (const { topic, numPartitions } of missing) {
    await waitFor(
      async () => (await admin.fetchTopicOffsets(topic)).length >= Math.max(numPartitions ?? 1, 1),
      { timeoutMs, intervalMs: 50, message: `a leader for every partition of ${topic}` },
    );
  }
  return created;
}

/** GoMaint's broker port when it is free (for `npm run stack`), else any free port. */
export async function preferredKafkaPort(port = 9092): Promise<number> {
  return preferredPort(port);
}

/**
 * What `StorageTool random-uuid` prints (a Kafka Uuid is 16 bytes in URL-safe base64), without a JVM
 * start. Like Kafka's own Uuid.randomUuid it never starts with '-', which the tool's argument parser
 * would read as an option (1 start in 64 failed with ENV_KAFKA_FORMAT before).
 */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
