import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../env/helpers.ts';
import { buildImages, startPodmanService, type Images, type PodmanService } from '../../env/images.ts';
import { repoRoot, run, runOk, type RunResult } from './tools.ts';

// The README's compose Quick Start, word for word, against real containers: podman's Docker API
// (`podman system service`) driven by the compose CLI, and `docker` from podman-docker. Kafka and etcd
// are the images build-images.sh makes under the names docker-compose.yml pulls; Kafka UI is behind
// the `ui` profile and not started.

let images: Images;
let service: PodmanService | undefined;
let dir = '';
let env: NodeJS.ProcessEnv = {};

/** One command of the README, as a user types it into a shell in the repository. */
function sh(command: string, timeoutMs = 120_000): Promise<RunResult> {
  return run('sh', ['-c', command], { env, timeoutMs });
}

async function shOk(command: string, timeoutMs?: number): Promise<string> {
  const result = await sh(command, timeoutMs);
  if (result.code !== 0)
    throw new Error(`${command} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

async function maintenanceState(port: number): Promise<string | undefined> {
  const out = await shOk(`curl -s http://localhost:${port}/health`);
  return (JSON.parse(out) as { maintenance?: { state?: string } }).maintenance?.state;
}

beforeAll(async () => {
  images = await buildImages({ compose: true });
  dir = mkdtempSync(join(tmpdir(), 'kmaint-compose-up-'));
  const compose = (await runOk('bash', [join(repoRoot, 'test/env/build-compose.sh')], { timeoutMs: 900_000 }))
    .trim()
    .split('\n')
    .pop();
  symlinkSync(compose ?? '', join(dir, 'docker-compose'));
  service = await startPodmanService(images, dir);
  env = { ...images.env, DOCKER_HOST: service.dockerHost, PATH: `${dir}:${process.env['PATH'] ?? ''}` };
}, 1_800_000);

afterAll(async () => {
  if (service !== undefined) {
    await sh('docker-compose down -v --timeout 5', 300_000);
    await service.stop();
  }
  rmSync(dir, { recursive: true, force: true });
}, 600_000);

describe('the compose Quick Start on real containers', () => {
  it('`docker-compose up -d` starts Kafka, etcd and both replicas, each behind its health check', async () => {
    await shOk('docker-compose up -d', 900_000);
    const ps = await shOk('docker-compose ps --format "{{.Name}} {{.Status}}"');
    for (const name of ['kafka-broker', 'kafka-etcd', 'kafka-service', 'kafka-service-2']) {
      expect(ps, name).toMatch(new RegExp(`^${name} Up`, 'm'));
    }
    expect(ps).not.toContain('kafka-ui');
    await waitFor(async () => (await maintenanceState(8083)) === 'running', {
      timeoutMs: 120_000,
      message: 'kafka-service on :8083 to consume',
    });
    await waitFor(async () => (await maintenanceState(8085)) === 'running', {
      timeoutMs: 120_000,
      message: 'kafka-service-2 on :8085 to consume',
    });
  }, 900_000);

  it('sends a message through the API and lists the topics on the broker', async () => {
    const sent = await shOk(
      `curl -s -X POST http://localhost:8083/messages/send -H 'Content-Type: application/json' ` +
        `-d '{"topic": "test-topic", "message": "Hello from Kafka!", "key": "test-key"}'`,
    );
    expect(sent).toContain('test-topic');
    const topics = await shOk(
      'docker exec kafka-broker kafka-topics --bootstrap-server localhost:9092 --list',
    );
    expect(topics.split('\n')).toEqual(expect.arrayContaining(['test-topic', 'user-events', 'system-logs']));
  });

  it('`docker exec kafka-etcd etcdctl put /maintenance/kafka-service true` drains the first replica, `false` resumes it', async () => {
    expect((await shOk('docker exec kafka-etcd etcdctl put /maintenance/kafka-service true')).trim()).toBe(
      'OK',
    );
    await waitFor(async () => (await maintenanceState(8083)) === 'maintenance', {
      timeoutMs: 90_000,
      message: 'kafka-service in maintenance',
    });
    expect(await maintenanceState(8085)).toBe('running');
    // The host's etcdctl sees the same key on the published port.
    expect(await shOk('etcdctl --endpoints=http://localhost:2401 get /maintenance/kafka-service')).toContain(
      'true',
    );
    expect((await shOk('docker exec kafka-etcd etcdctl put /maintenance/kafka-service false')).trim()).toBe(
      'OK',
    );
    await waitFor(async () => (await maintenanceState(8083)) === 'running', {
      timeoutMs: 90_000,
      message: 'kafka-service running again',
    });
  }, 300_000);

  it('shows the logs of the service and of Kafka', async () => {
    expect(await shOk('docker-compose logs kafka-service')).toContain('kafka-service');
    expect((await sh('docker-compose logs kafka')).stdout).toContain('Kafka Server started');
  });

  it('`docker compose down -v` removes the containers and the volumes', async () => {
    await shOk('docker-compose down -v', 300_000);
    expect(await shOk('docker ps -a --format "{{.Names}}"')).not.toMatch(/kafka-(broker|etcd|service)/);
    expect(await shOk('docker volume ls --format "{{.Name}}"')).not.toContain('kafka-service_kafka');
  });
});
