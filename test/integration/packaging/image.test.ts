import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { freePort } from '../../env/ports.ts';
import { DockerfileReplay, runtimeTargets, type ReplayedImage } from './image-replay.ts';
import { kubectlBin, repoRoot, run, runOk } from './tools.ts';

// The images as the Dockerfile builds them, replayed on the host (see image-replay.ts), then run like
// a container would run them: the ENTRYPOINT against the test environment's real Kafka, etcd and
// kube-apiserver, the HEALTHCHECK command as Docker would call it, SIGTERM as `docker stop` sends it.
// What this cannot show is the base image's own behaviour; what it shows is that the stages, the
// production-only dependencies and the entry points fit together.

let dir = '';
let replay: DockerfileReplay;
const images: Record<string, ReplayedImage> = {};
const running: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kmaint-image-'));
  replay = new DockerfileReplay(dir);
  for (const target of runtimeTargets) images[target] = await replay.image(target);
}, 900_000);

afterAll(() => {
  for (const child of running) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function image(name: string): ReplayedImage {
  const found = images[name];
  if (!found) throw new Error(`no replayed image ${name}; targets: ${runtimeTargets.join(', ')}`);
  return found;
}

/** Every file of the image with its size and modification time, to see whether a run wrote anything. */
function snapshot(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((path) => {
      const stat = lstatSync(join(root, path));
      return `${path} ${stat.size} ${stat.mtimeMs}`;
    })
    .sort();
}

function start(
  img: ReplayedImage,
  env: Record<string, string>,
): { child: ChildProcess; exited: Promise<number | null> } {
  const [command = '', ...args] = img.entrypoint;
  const child = spawn(command, args, {
    cwd: join(img.root, img.workdir),
    env: { ...replay.processEnv(img), ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      if (code !== 0 && stderr) console.log(`${img.entrypoint.join(' ')} stderr:\n${stderr}`);
      resolve(code);
    }),
  );
  return { child, exited };
}

/** Runs the HEALTHCHECK command as Docker does: in the container, with its environment. */
async function healthcheck(img: ReplayedImage, env: Record<string, string>): Promise<boolean> {
  const [command = '', ...args] = img.healthcheck;
  const result = await run(command, args, {
    cwd: join(img.root, img.workdir),
    env: { ...replay.processEnv(img), ...env },
  });
  return result.code === 0;
}

async function status(port: number, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) })).status;
}

describe('the Dockerfile replayed', () => {
  it('has a service, an operator, an agent and an example target', () => {
    expect(runtimeTargets.sort()).toEqual(['agent', 'operator', 'orders-ledger', 'service']);
  });

  it.each(['service', 'operator'])('%s image holds production dependencies only', (name) => {
    const modules = join(image(name).root, 'app', 'node_modules');
    const installed = readdirSync(modules);
    for (const devOnly of [
      'typescript',
      'vitest',
      'eslint',
      'prettier',
      'typescript-eslint',
      'fast-check',
      'node',
    ]) {
      expect(installed, devOnly).not.toContain(devOnly);
    }
    // The workspace links resolve inside the image, and the program is there compiled, without sources.
    expect(realpathSync(join(modules, '@kmaint', 'common'))).toBe(join(image(name).root, 'app', 'common'));
    expect(readdirSync(join(image(name).root, 'app', name)).sort()).toEqual(['dist', 'package.json']);
    // Only the workspace's own dependencies: the other program's are not installed.
    const other = name === 'service' ? '@kubernetes' : 'kafkajs';
    expect(installed).not.toContain(other);
  });

  it('service image: consumes from real Kafka and etcd, passes its HEALTHCHECK, stops cleanly, writes nothing', async () => {
    const img = image('service');
    const topic = uniqueName('image-topic');
    const kafka = new Kafka({ brokers: [inject('kafkaBrokers')], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();

    const before = snapshot(img.root);
    const port = await freePort();
    const env = {
      HTTP_PORT: String(port),
      KAFKA_BROKERS: inject('kafkaBrokers'),
      ETCD_ENDPOINTS: inject('etcdEndpoints'),
      KAFKA_TOPICS: topic,
      KAFKA_CONSUMER_GROUP: uniqueName('image-group'),
      MAINTENANCE_KEY: `/maintenance/${uniqueName('image')}`,
      MEMBER_ID: uniqueName('image-member'),
    };
    const { child, exited } = start(img, env);
    await waitFor(() => healthcheck(img, env), {
      timeoutMs: 60_000,
      message: 'the HEALTHCHECK command to pass',
    });
    await waitFor(async () => (await status(port, '/readyz')) === 200, {
      timeoutMs: 90_000,
      message: '/readyz 200',
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await healthcheck(img, env)).toBe(false);
    expect(snapshot(img.root)).toEqual(before);
  });

  it('operator image: reconciles against the real apiserver, passes its HEALTHCHECK, stops cleanly, writes nothing', async () => {
    const img = image('operator');
    const namespace = uniqueName('image-operator');
    const kube = { env: { KUBECONFIG: inject('kubeconfig') } };
    // The operator's window informer needs the CRD, which other test files may not have applied yet.
    const crd = join(repoRoot, 'crds', 'kmaint.io_maintenancewindows.yaml');
    await runOk(kubectlBin(), ['apply', '--server-side', '--force-conflicts', '-f', crd], kube);
    await runOk(
      kubectlBin(),
      ['wait', '--for=condition=Established', 'crd/maintenancewindows.kmaint.io'],
      kube,
    );
    await runOk(kubectlBin(), ['create', 'namespace', namespace], kube);
    try {
      const before = snapshot(img.root);
      const port = await freePort();
      const env = {
        HTTP_PORT: String(port),
        KUBECONFIG: inject('kubeconfig'),
        ETCD_ENDPOINTS: inject('etcdEndpoints'),
        WATCH_NAMESPACE: namespace,
        LEADER_ELECTION: 'false',
        POD_NAME: uniqueName('image-operator-pod'),
      };
      const { child, exited } = start(img, env);
      await waitFor(() => healthcheck(img, env), {
        timeoutMs: 60_000,
        message: 'the HEALTHCHECK command to pass',
      });
      await waitFor(async () => (await status(port, '/readyz')) === 200, {
        timeoutMs: 90_000,
        message: '/readyz 200',
      });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(snapshot(img.root)).toEqual(before);
    } finally {
      await run(kubectlBin(), ['delete', 'namespace', namespace, '--wait=false'], kube);
    }
  });
});
