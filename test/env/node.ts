import {
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
  type V1NodeCondition,
} from '@kubernetes/client-node';

export interface NodeHeartbeatOptions {
  name: string;
  labels?: Record<string, string>;
  /** The Node's InternalIP; a test-range address, nothing connects to it. */
  address?: string;
  /** How often status and Lease are renewed (a kubelet's default is 10 s). */
  intervalMs?: number;
}

function isStatus(err: unknown, code: number): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && (err as { code: unknown }).code === code;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

/**
 * A Node object kept Ready the way a kubelet keeps it: status conditions and a Lease in kube-node-lease,
 * renewed on an interval. The real node-lifecycle controller then lifts the not-ready taint, so the real
 * scheduler binds pods to it. Runs no pods: the control-plane tests need a schedulable node, not containers.
 */
export class NodeHeartbeat {
  readonly name: string;
  readonly #core: CoreV1Api;
  readonly #leases: CoordinationV1Api;
  #timer: NodeJS.Timeout | undefined;
  #beat: Promise<void> = Promise.resolve();
  readonly #since = new Date();
  lastError: unknown;

  private constructor(kc: KubeConfig, name: string) {
    this.name = name;
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#leases = kc.makeApiClient(CoordinationV1Api);
  }

  static async register(kc: KubeConfig, options: NodeHeartbeatOptions): Promise<NodeHeartbeat> {
    const node = new NodeHeartbeat(kc, options.name);
    const labels = {
      'kubernetes.io/hostname': options.name,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'amd64',
      ...options.labels,
    };
    try {
      await node.#core.createNode({ body: { metadata: { name: options.name, labels } } });
    } catch (err) {
      if (!isStatus(err, 409)) throw err;
    }
    await node.#heartbeat(options.address ?? '198.18.0.1');
    const interval = options.intervalMs ?? 10_000;
    node.#timer = setInterval(() => {
      node.#beat = node.#heartbeat(options.address ?? '198.18.0.1').then(
        () => {
          node.lastError = undefined;
        },
        (err: unknown) => {
          node.lastError = err;
        },
      );
    }, interval);
    node.#timer.unref();
    return node;
  }

  async #heartbeat(address: string): Promise<void> {
    const now = new Date();
    const condition = (type: string, status: string, reason: string): V1NodeCondition => ({
      type,
      status,
      reason,
      message: `stand-in node: ${reason}`,
      lastHeartbeatTime: now,
      lastTransitionTime: this.#since,
    });
    const resources = { cpu: '8', memory: '32Gi', pods: '110', 'ephemeral-storage': '100Gi' };
    await this.#core.patchNodeStatus(
      {
        name: this.name,
        body: {
          status: {
            conditions: [
              condition('Ready', 'True', 'KubeletReady'),
              condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory'),
              condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure'),
              condition('PIDPressure', 'False', 'KubeletHasSufficientPID'),
            ],
            addresses: [
              { type: 'InternalIP', address },
              { type: 'Hostname', address: this.name },
            ],
            capacity: resources,
            allocatable: resources,
            nodeInfo: {
              architecture: 'amd64',
              operatingSystem: 'linux',
              kubeletVersion: 'v1.34.4',
              kubeProxyVersion: '',
              containerRuntimeVersion: 'kmaint-stand-in://1',
              bootID: '',
              kernelVersion: '',
              machineID: '',
              osImage: 'kmaint stand-in node',
              systemUUID: '',
            },
          },
        },
      },
      mergePatch,
    );
    await this.#renewLease(now);
  }

  async #renewLease(now: Date): Promise<void> {
    const namespace = 'kube-node-lease';
    const body: V1Lease = {
      metadata: { name: this.name, namespace },
      // MicroTime: the apiserver rejects the three fractional digits a plain Date serialises to.
      spec: {
        holderIdentity: this.name,
        leaseDurationSeconds: 40,
        renewTime: new V1MicroTime(now.getTime()),
      },
    };
    try {
      const lease = await this.#leases.readNamespacedLease({ name: this.name, namespace });
      lease.spec = { ...lease.spec, ...body.spec };
      await this.#leases.replaceNamespacedLease({ name: this.name, namespace, body: lease });
    } catch (err) {
      if (!isStatus(err, 404)) throw err;
      await this.#leases.createNamespacedLease({ namespace, body });
    }
  }

  /** Stops the heartbeat; with `remove`, also deletes the Node (its pods are then garbage). */
  async stop(options: { remove?: boolean } = {}): Promise<void> {
    clearInterval(this.#timer);
    await this.#beat;
    if (options.remove === true) {
      await this.#core.deleteNode({ name: this.name }).catch((err: unknown) => {
        if (!isStatus(err, 404)) throw err;
      });
    }
  }
}
