import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { EnvError } from './errors.ts';
import { waitFor } from './helpers.ts';
import { podmanOk, type Images } from './images.ts';
import { ensurePodBridge, podNetwork } from './pod-network.ts';
import { freePort } from './ports.ts';
import { logTail, Supervised } from './supervisor.ts';

// A real Kubernetes node: Debian's containerd with a private configuration and the kubelet built by
// build-go-tools.sh, registered with the test control plane. Started by the test file that needs it,
// not by the global setup, so every other test runs without it. Images come from podman's store
// (build-images.sh) and are used with imagePullPolicy: Never, as no registry is reachable.

const run = promisify(execFile);
const script = fileURLToPath(new URL('./real-node.sh', import.meta.url));

export interface RealNodeOptions {
  /** This node's folder: containerd's root and state, the kubelet's root, configs and logs. */
  dir: string;
  nodeName: string;
  kubeconfig: string;
  toolsBin: string;
  images: Images;
  /** Image references in podman's store to copy into containerd before the kubelet starts. */
  load: readonly string[];
}

export class RealNode {
  readonly name: string;
  readonly dir: string;
  /** From start until the Node reported Ready, including the image import. */
  startMs = 0;
  readonly #socket: string;
  readonly #containerd: Supervised;
  readonly #kubelet: Supervised;
  readonly #kc: KubeConfig;

  private constructor(opts: RealNodeOptions, socket: string, containerd: Supervised, kubelet: Supervised) {
    this.name = opts.nodeName;
    this.dir = opts.dir;
    this.#socket = socket;
    this.#containerd = containerd;
    this.#kubelet = kubelet;
    this.#kc = new KubeConfig();
    this.#kc.loadFromFile(opts.kubeconfig);
  }

  static async start(opts: RealNodeOptions): Promise<RealNode> {
    const began = performance.now();
    const { dir } = opts;
    mkdirSync(dir, { recursive: true });
    await ensurePodBridge();
    const prepared = await run('bash', [script, dir, podNetwork.bridge, podNetwork.subnet], {
      env: { ...process.env, ...opts.images.env },
    });
    const pauseTar = /^pause=(.*)$/m.exec(prepared.stdout)?.[1];
    if (pauseTar === undefined) throw new EnvError('ENV_NODE_PREPARE', `real-node.sh: ${prepared.stderr}`);
    const socket = join(dir, 'containerd.sock');
    const ctr = (args: readonly string[]) =>
      run('ctr', ['--address', socket, '--namespace', 'k8s.io', ...args], { maxBuffer: 16 * 1024 * 1024 });

    const containerd = new Supervised({
      name: 'containerd',
      command: 'containerd',
      args: ['--config', join(dir, 'containerd.toml')],
      logFile: join(dir, 'containerd.log'),
      readyTimeoutMs: 60_000,
      stopTimeoutMs: 10_000,
      ready: async () => {
        await ctr(['version']);
        return true;
      },
    });
    await containerd.start();
    const kubelet = await (async () => {
      try {
        await ctr(['images', 'import', pauseTar]);
        for (const [i, ref] of opts.load.entries()) {
          const tar = join(dir, `image-${i}.tar`);
          await podmanOk(opts.images, ['save', '--format', 'oci-archive', '--output', tar, ref], 300_000);
          await ctr(['images', 'import', tar]);
          // containerd holds its own copy now; the archive (some 120 MB per image) only fills the disk.
          rmSync(tar);
        }
        return await startKubelet(opts, socket);
      } catch (err) {
        await containerd.stop();
        throw err;
      }
    })();
    const node = new RealNode(opts, socket, containerd, kubelet);
    try {
      await waitFor(() => node.ready(), {
        timeoutMs: 120_000,
        intervalMs: 250,
        message: `node ${opts.nodeName} Ready; kubelet log:\n${logTail(join(dir, 'kubelet.log'))}`,
      });
    } catch (err) {
      await node.stop();
      throw err;
    }
    node.startMs = performance.now() - began;
    return node;
  }

  /** The Node's Ready condition is True. */
  async ready(): Promise<boolean> {
    const node = await this.#kc.makeApiClient(CoreV1Api).readNode({ name: this.name });
    return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
  }

  /**
   * Stops the kubelet, then every container it left (containerd's shims outlive containerd), then
   * containerd, unmounts what they mounted under the node's folder (the kubelet bind-mounts its own
   * root) so the folder can be removed, and removes the Node. Tests delete their pods first; this is for what a failure left.
   */
  async stop(): Promise<void> {
    await this.#kubelet.stop();
    const ctr = (args: readonly string[]) =>
      run('ctr', ['--address', this.#socket, '--namespace', 'k8s.io', ...args]).catch(() => undefined);
    const tasks = (await ctr(['tasks', 'ls', '--quiet']))?.stdout.split('\n').filter(Boolean) ?? [];
    for (const id of tasks) await ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
    for (const id of tasks) {
      await waitFor(async () => !((await ctr(['tasks', 'ls', '--quiet']))?.stdout.includes(id) ?? false), {
        timeoutMs: 20_000,
        message: `container ${id} gone`,
      }).catch(() => undefined);
      await ctr(['tasks', 'delete', '--force', id]);
    }
    await this.#containerd.stop();
    await unmountUnder(this.dir);
    await this.#kc
      .makeApiClient(CoreV1Api)
      .deleteNode({ name: this.name })
      .catch(() => undefined);
  }
}

async function startKubelet(opts: RealNodeOptions, socket: string): Promise<Supervised> {
  const { dir } = opts;
  const port = await freePort();
  const healthzPort = await freePort();
  // This sandbox: cgroup v1 without systemd, swap on, no QoS cgroups or node allocatable enforcement,
  // and a disk too full for eviction thresholds or image GC to be meaningful (images cannot be pulled
  // back). Anonymous AlwaysAllow: a test-only node on loopback.
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'cgroupfs',
    failCgroupV1: false,
    failSwapOn: false,
    cgroupsPerQOS: false,
    enforceNodeAllocatable: [],
    localStorageCapacityIsolation: false,
    evictionHard: {},
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    resolvConf: '',
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    containerRuntimeEndpoint: `unix://${socket}`,
    // On the pod network, where the apiserver reaches it for `kubectl logs` (its InternalIP).
    address: podNetwork.hostAddress,
    port,
    healthzPort,
    healthzBindAddress: '127.0.0.1',
    readOnlyPort: 0,
  };
  const configFile = join(dir, 'kubelet-config.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const kubelet = new Supervised({
    name: 'kubelet',
    command: join(opts.toolsBin, 'kubelet'),
    args: [
      `--config=${configFile}`,
      `--kubeconfig=${opts.kubeconfig}`,
      `--root-dir=${join(dir, 'kubelet')}`,
      `--cert-dir=${join(dir, 'kubelet-pki')}`,
      `--hostname-override=${opts.nodeName}`,
      `--node-ip=${podNetwork.hostAddress}`,
    ],
    logFile: join(dir, 'kubelet.log'),
    readyTimeoutMs: 120_000,
    stopTimeoutMs: 10_000,
    ready: async () => (await fetch(`http://127.0.0.1:${healthzPort}/healthz`)).status === 200,
  });
  await kubelet.start();
  return kubelet;
}

/** Unmounts every mount point below `dir`, deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of points) await run('umount', [point]).catch(() => run('umount', ['--lazy', point]));
}
