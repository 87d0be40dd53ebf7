import {
  accessSync,
  constants,
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { envConfig } from '../../env/config.ts';
import { repoRoot, run, runOk } from './tools.ts';

// docker-compose.yml checked by the real compose CLI (built from its Go module; it validates and
// normalises the file without a Docker engine) and against the GoMaint Kafka example's Quick Start,
// whose commands must keep working as written.

/** The GoMaint example's commands and facts this file has to honour. */
const goMaint = {
  commands: [
    'docker-compose up -d',
    'curl http://localhost:8083/health',
    'docker exec kafka-etcd etcdctl put /maintenance/kafka-service true',
    'docker exec kafka-etcd etcdctl put /maintenance/kafka-service false',
    'docker exec kafka-broker kafka-topics --bootstrap-server localhost:9092 --list',
    'docker-compose logs kafka-service',
    'docker-compose logs kafka',
    'docker volume rm kafka-service_kafka_data kafka-service_kafka_etcd_data',
  ],
  ports: {
    service: 8083,
    kafkaUi: 8084,
    kafkaExternal: 9092,
    kafkaInternal: 29092,
    etcdClient: 2401,
    etcdPeer: 2402,
  },
  etcdKey: '/maintenance/kafka-service',
  topics: 'test-topic,user-events,system-logs',
  group: 'gomaint-consumer-group',
  serviceDefaults: { KAFKA_BROKERS: 'kafka:29092', ETCD_ENDPOINTS: 'etcd:2379' },
};

interface PortMapping {
  target: number;
  published: string;
  protocol: string;
}
interface ComposeService {
  container_name?: string;
  hostname?: string;
  image?: string;
  build?: { context: string; dockerfile: string; target?: string };
  ports?: PortMapping[];
  environment?: Record<string, string | null>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  read_only?: boolean;
  stop_grace_period?: string;
  volumes?: { type: string; source: string; target: string }[];
}
interface ComposeModel {
  name: string;
  services: Record<string, ComposeService>;
  volumes: Record<string, { name: string }>;
}

let compose = '';
let model: ComposeModel;

function service(name: string): ComposeService {
  const found = model.services[name];
  if (!found) throw new Error(`no service ${name} in docker-compose.yml`);
  return found;
}

function published(s: ComposeService): Record<number, number> {
  return Object.fromEntries((s.ports ?? []).map((p) => [Number(p.published), p.target]));
}

beforeAll(async () => {
  // Cached under ~/.cache/kmaint after the first build (a few minutes on two busy cores).
  const built = await runOk('bash', [join(repoRoot, 'test/env/build-compose.sh')], { timeoutMs: 900_000 });
  compose = built.trim().split('\n').pop() ?? '';
  // With the `ui` profile, so the model holds every service the file declares.
  model = JSON.parse(
    await runOk(compose, ['-f', 'docker-compose.yml', '--profile', 'ui', 'config', '--format', 'json']),
  ) as ComposeModel;
}, 900_000);

describe('docker-compose.yml', () => {
  it('is accepted by `docker-compose config -q`', async () => {
    const result = await run(compose, ['-f', 'docker-compose.yml', 'config', '-q']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('would be refused if it were wrong (the validator is real): an unknown key is named with its path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-compose-'));
    try {
      const broken = readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8').replace(
        '    container_name: kafka-etcd\n',
        '    container_name: kafka-etcd\n    containr_name: typo\n',
      );
      writeFileSync(join(dir, 'docker-compose.yml'), broken);
      copyFileSync(join(repoRoot, 'Dockerfile'), join(dir, 'Dockerfile'));
      const result = await run(compose, ['-f', join(dir, 'docker-compose.yml'), 'config', '-q']);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain("services.etcd additional properties 'containr_name' not allowed");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('uses the GoMaint names: project, containers, services and volumes', () => {
    expect(model.name).toBe('kafka-service');
    expect(Object.keys(model.services).sort()).toEqual([
      'etcd',
      'kafka',
      'kafka-init',
      'kafka-service',
      'kafka-service-2',
      'kafka-ui',
    ]);
    expect(service('etcd').container_name).toBe('kafka-etcd');
    expect(service('kafka').container_name).toBe('kafka-broker');
    expect(service('kafka-service').container_name).toBe('kafka-service');
    expect(
      Object.values(model.volumes)
        .map((v) => v.name)
        .sort(),
    ).toEqual(['kafka-service_kafka_data', 'kafka-service_kafka_etcd_data']);
  });

  it('publishes the GoMaint ports, and the second replica on 8085', () => {
    const p = goMaint.ports;
    expect(published(service('kafka-service'))).toEqual({ [p.service]: 8083 });
    expect(published(service('kafka-service-2'))).toEqual({ 8085: 8083 });
    expect(published(service('kafka-ui'))).toEqual({ [p.kafkaUi]: 8080 });
    expect(published(service('etcd'))).toEqual({ [p.etcdClient]: 2379, [p.etcdPeer]: 2380 });
    expect(published(service('kafka'))).toEqual({ [p.kafkaExternal]: 9092, [p.kafkaInternal]: 29092 });
  });

  it('lets `docker exec kafka-etcd etcdctl put /maintenance/kafka-service true` switch the service', () => {
    const etcd = service('etcd');
    // etcdctl inside the container defaults to 127.0.0.1:2379, where this etcd listens.
    // The etcd release the tests run against.
    expect(etcd.image).toBe(`quay.io/coreos/etcd:v${envConfig.etcdVersion}`);
    expect(etcd.healthcheck?.test).toEqual(['CMD', 'etcdctl', 'endpoint', 'health']);
    const command = (etcd as { command?: string[] }).command ?? [];
    expect(command).toContain('--listen-client-urls=http://0.0.0.0:2379');
    const env = service('kafka-service').environment ?? {};
    expect(env['MAINTENANCE_KEY']).toBe(goMaint.etcdKey);
    // The service reaches etcd and Kafka by service name, as GoMaint's defaults say.
    expect(env['ETCD_ENDPOINTS']).toBe(goMaint.serviceDefaults.ETCD_ENDPOINTS);
    expect(env['KAFKA_BROKERS']).toBe(goMaint.serviceDefaults.KAFKA_BROKERS);
    expect(env['KAFKA_TOPICS']).toBe(goMaint.topics);
    expect(env['KAFKA_CONSUMER_GROUP']).toBe(goMaint.group);
    expect(env['HTTP_PORT']).toBe('8083');
  });

  it('runs a second replica in the same group on its own key, so a drain moves partitions to it', () => {
    const first = service('kafka-service');
    const second = service('kafka-service-2');
    expect(second.container_name).toBe('kafka-service-2');
    expect(second.build).toEqual(first.build);
    expect(second.image).toBe(first.image);
    const env = second.environment ?? {};
    expect(env['KAFKA_CONSUMER_GROUP']).toBe(goMaint.group);
    expect(env['KAFKA_TOPICS']).toBe(goMaint.topics);
    expect(env['MAINTENANCE_KEY']).toBe('/maintenance/kafka-service-2');
    expect(env['MEMBER_ID']).toBe('kafka-service-2');
    expect(second.read_only).toBe(true);
    expect(second.depends_on).toEqual(first.depends_on);
    // Auto-created topics get enough partitions for both replicas.
    expect(Number(service('kafka').environment?.['KAFKA_NUM_PARTITIONS'])).toBeGreaterThanOrEqual(2);
  });

  it('runs Kafka in KRaft mode, advertising kafka:29092 to containers and localhost:9092 to the host', () => {
    const kafka = service('kafka');
    // The official image, at the version the tests run against.
    expect(kafka.image).toBe(`apache/kafka:${envConfig.kafkaVersion}`);
    expect(kafka.healthcheck?.test).toEqual([
      'CMD',
      '/opt/kafka/bin/kafka-broker-api-versions.sh',
      '--bootstrap-server',
      'localhost:9092',
    ]);
    expect(kafka.hostname).toBe('kafka');
    const env = kafka.environment ?? {};
    expect(env['KAFKA_PROCESS_ROLES']).toBe('broker,controller');
    expect(env['KAFKA_ZOOKEEPER_CONNECT']).toBeUndefined();
    expect(env['CLUSTER_ID']).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(env['KAFKA_ADVERTISED_LISTENERS']).toBe('PLAINTEXT://kafka:29092,PLAINTEXT_HOST://localhost:9092');
    expect(env['KAFKA_CONTROLLER_QUORUM_VOTERS']).toBe('1@kafka:29093');
    expect(env['KAFKA_AUTO_CREATE_TOPICS_ENABLE']).toBe('true');
    expect(service('kafka-ui').image).toMatch(/^kafbat\/kafka-ui:v\d+\.\d+\.\d+$/);
    expect(service('kafka-ui').environment?.['KAFKA_CLUSTERS_0_BOOTSTRAPSERVERS']).toBe('kafka:29092');
  });

  it('starts Kafka UI only with the `ui` profile (its image comes from Docker Hub only)', async () => {
    const services = await runOk(compose, ['-f', 'docker-compose.yml', 'config', '--services']);
    expect(services.trim().split('\n').sort()).toEqual([
      'etcd',
      'kafka',
      'kafka-init',
      'kafka-service',
      'kafka-service-2',
    ]);
    expect((model.services['kafka-ui'] as { profiles?: string[] }).profiles).toEqual(['ui']);
  });

  it('starts in order behind health checks', () => {
    for (const name of ['kafka', 'etcd', 'kafka-service', 'kafka-service-2']) {
      expect(service(name).healthcheck?.test.length, name).toBeGreaterThan(1);
    }
    expect(service('kafka-service').depends_on).toEqual({
      kafka: expect.objectContaining({ condition: 'service_healthy' }),
      'kafka-init': expect.objectContaining({ condition: 'service_completed_successfully' }),
      etcd: expect.objectContaining({ condition: 'service_healthy' }),
    });
    // The consumer never creates its topics: they exist before it starts.
    const init = service('kafka-init') as { command?: string[]; image?: string };
    expect(init.image).toBe(service('kafka').image);
    for (const topic of goMaint.topics.split(',')) expect(init.command?.join(' ')).toContain(topic);
    expect(service('kafka-ui').depends_on).toEqual({
      kafka: expect.objectContaining({ condition: 'service_healthy' }),
    });
  });

  it('builds the service from the Dockerfile and runs it read-only with time to drain on stop', () => {
    const s = service('kafka-service');
    expect(s.build).toMatchObject({ dockerfile: 'Dockerfile', target: 'service' });
    expect(s.build?.context).toBe(repoRoot.replace(/\/$/, ''));
    expect(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')).toMatch(/^FROM \S+ AS service$/m);
    expect(s.read_only).toBe(true);
    // `docker stop` waits this long after SIGTERM: more than the 45 s drain.
    expect(s.stop_grace_period).toBe('1m0s');
  });

  it("keeps every GoMaint command working: its containers exist, and kafka-topics is on the broker's PATH", () => {
    const containers = new Set(Object.values(model.services).map((s) => s.container_name));
    for (const command of goMaint.commands) {
      const exec = /^docker exec (\S+) /.exec(command);
      if (exec) expect(containers, command).toContain(exec[1]);
      const logs = /^docker-compose logs (\S+)$/.exec(command);
      if (logs) expect(Object.keys(model.services), command).toContain(logs[1]);
    }
    // apache/kafka names its tools kafka-topics.sh; a mounted wrapper answers to the plain name.
    const mount = service('kafka').volumes?.find((v) => v.target === '/usr/local/bin/kafka-topics');
    expect(mount).toMatchObject({ type: 'bind', source: join(repoRoot, 'deploy/compose/kafka-topics') });
    accessSync(join(repoRoot, 'deploy/compose/kafka-topics'), constants.X_OK);
    expect(readFileSync(join(repoRoot, 'deploy/compose/kafka-topics'), 'utf8')).toContain(
      'exec /opt/kafka/bin/kafka-topics.sh "$@"',
    );
  });
});
