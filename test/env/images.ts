import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Supervised } from './supervisor.ts';

// kmaint's container images, built from the Dockerfile by build-images.sh (cached in podman's store
// under ~/.cache/kmaint/podman), and podman run with that store's private settings.

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface Images {
  /**
   * Base, Dockerfile target, example or compose image (debian, node, jre, service, operator, agent,
   * orders-ledger, java-consumer, kafka, etcd) → image reference.
   */
  refs: Record<string, string>;
  /** CONTAINERS_CONF and CONTAINERS_STORAGE_CONF for plain `podman` and `docker` (podman-docker). */
  env: Record<string, string>;
}

export interface PodmanResult {
  code: number;
  stdout: string;
  stderr: string;
}

function exec(
  file: string,
  args: readonly string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<PodmanResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: repoRoot, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
  });
}

/** Builds what is missing (seconds when cached) and names the images; `compose`: also Kafka and etcd. */
export async function buildImages(options: { compose?: boolean } = {}): Promise<Images> {
  const args = [
    join(repoRoot, 'test/env/build-images.sh'),
    ...(options.compose === true ? ['--compose'] : []),
  ];
  const result = await exec('bash', args, {}, 1_800_000);
  if (result.code !== 0) throw new Error(`build-images.sh exited ${result.code}:\n${result.stderr}`);
  const refs: Record<string, string> = {};
  for (const line of result.stdout.trim().split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) refs[line.slice(0, at)] = line.slice(at + 1);
  }
  const envFile = refs['env'];
  if (envFile === undefined) throw new Error(`build-images.sh printed no env file:\n${result.stdout}`);
  delete refs['env'];
  const env = Object.fromEntries(
    readFileSync(envFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  return { refs, env };
}

/** A podman command on the images' store; never throws for a non-zero exit. */
export function podman(images: Images, args: readonly string[], timeoutMs = 120_000): Promise<PodmanResult> {
  return exec('podman', args, images.env, timeoutMs);
}

/** Like podman, but a non-zero exit is an error with podman's stderr; resolves to stdout. */
export async function podmanOk(
  images: Images,
  args: readonly string[],
  timeoutMs = 120_000,
): Promise<string> {
  const result = await podman(images, args, timeoutMs);
  if (result.code !== 0) {
    throw new Error(`podman ${args.join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`);
  }
  return result.stdout;
}

export interface PodmanService {
  /** DOCKER_HOST for the compose CLI and other Docker API clients. */
  dockerHost: string;
  stop(): Promise<void>;
}

/**
 * `podman system service`: the Docker-compatible API on a socket in `dir`. Without systemd podman runs
 * no health checks on its own, so while the service runs a timer runs `podman healthcheck run` for every
 * container whose health is not yet (or no longer) healthy, as the timers podman would create do.
 */
export async function startPodmanService(images: Images, dir: string): Promise<PodmanService> {
  const socket = join(dir, 'podman.sock');
  const proc = new Supervised({
    name: 'podman-service',
    command: 'podman',
    args: ['system', 'service', '--time=0', `unix://${socket}`],
    env: { ...process.env, ...images.env },
    logFile: join(dir, 'podman-service.log'),
    readyTimeoutMs: 60_000,
    stopTimeoutMs: 10_000,
    ready: () => ping(socket),
  });
  await proc.start();
  let ticking = true;
  const tick = async (): Promise<void> => {
    while (ticking) {
      const ps = await podman(images, ['ps', '--format', '{{.Names}} {{.Status}}']);
      const pending = ps.stdout
        .split('\n')
        .filter((line) => /\((starting|unhealthy)\)/.test(line))
        .map((line) => line.split(' ')[0] ?? '');
      await Promise.all(pending.map((name) => podman(images, ['healthcheck', 'run', name])));
      await sleep(2000);
    }
  };
  const ticker = tick();
  return {
    dockerHost: `unix://${socket}`,
    async stop() {
      ticking = false;
      await ticker;
      await proc.stop();
    },
  };
}

function ping(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath: socket, path: '/_ping', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}
