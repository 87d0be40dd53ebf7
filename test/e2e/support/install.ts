import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, DiscoveryV1Api, type V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { buildImages } from '../../env/images.ts';
import { RealNode } from '../../env/real-node.ts';
import { logTail } from '../../env/supervisor.ts';
import { helm, kubeConfig, kubectl, podValue } from '../../env/tools.ts';
import { podStats } from './observe.ts';
import { PodLogs } from './pod-logs.ts';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const chartDir = join(repoRoot, 'charts', 'kmaint');
/** The consumer's name in the chart (its Deployment, Service and `app` label). */
export const consumerName = 'kafka-service';
/** The consumer's port in the chart (consumer.httpPort), where a real node's pod listens on its IP. */
const consumerPort = 8083;

export interface InstallOptions {
  /** Names the namespace, node and release, so a leftover says which test made it. */
  prefix: string;
  replicas: number;
  topic: string;
  group: string;
  /** The consumers watch /maintenance/<target>. */
  target: string;
  drainTimeoutSeconds: number;
  preStopSleepSeconds: number;
  /**
   * The operator watches all namespaces (ClusterRole), else only the release's (Role there), which keeps
   * it off other tests' windows.
   */
  clusterWideOperator?: boolean;
  /** Further service variables (consumer.env). */
  consumerEnv?: Record<string, string>;
  /** Further consumer chart values (an image and command, consumer.agent), over the ones above. */
  consumerValues?: Record<string, unknown>;
  /**
   * The consumer's image on a real node, by build-images.sh's name: `service` (the default),
   * `orders-ledger` or `java-consumer`.
   */
  consumerImage?: string;
  /** consumer.agent.enabled: kmaint-agent beside the consumer as a native sidecar (its image). */
  agent?: boolean;
}

/** Chart image values for an image of podman's store, which the real node has imported (no registry). */
function imageValues(ref: string): Record<string, string> {
  const colon = ref.lastIndexOf(':');
  return { repository: ref.slice(0, colon), tag: ref.slice(colon + 1), pullPolicy: 'Never' };
}

/**
 * One `helm install` of the chart (operator + CRD + example consumer) into a fresh namespace, its pods run
 * on a real node of its own (containerd + the kubelet, test/env/real-node.ts) with kmaint's images
 * built from the Dockerfile, on the pod network, against the test environment's Kafka and etcd.
 */
export class KmaintInstall {
  readonly namespace: string;
  readonly release: string;
  readonly nodeName: string;
  readonly logDir: string;
  readonly key: string;
  readonly options: InstallOptions;
  readonly core = kubeConfig().makeApiClient(CoreV1Api);
  readonly discovery = kubeConfig().makeApiClient(DiscoveryV1Api);
  #realNode: RealNode | undefined;
  #podLogs: PodLogs | undefined;
  /** Image references of the node's pods (build-images.sh), by Dockerfile target. */
  #imageRefs: Record<string, string> = {};

  constructor(options: InstallOptions) {
    this.options = options;
    this.namespace = uniqueName(options.prefix);
    this.release = uniqueName('km');
    this.nodeName = uniqueName(`${options.prefix}-node`);
    this.logDir = join(inject('envDir'), 'kubelet', this.nodeName);
    this.key = `/maintenance/${options.target}`;
  }

  /** The consumer pods' label selector, as a window selects them. */
  get selector(): Record<string, string> {
    return { app: consumerName, 'app.kubernetes.io/instance': this.release };
  }

  values(): Record<string, unknown> {
    const o = this.options;
    const onOurNode = { 'kubernetes.io/hostname': this.nodeName };
    const refs = this.#imageRefs;
    // No kube-proxy: the operator's in-cluster client is pointed at the apiserver's own pod-network
    // address instead of the `kubernetes` Service's cluster IP (a container's env wins over the
    // Service variables the kubelet sets).
    const apiserver = new URL(podValue('podKubeServer'));
    const operator = {
      image: imageValues(refs['operator'] ?? ''),
      extraEnv: [
        { name: 'KUBERNETES_SERVICE_HOST', value: apiserver.hostname },
        { name: 'KUBERNETES_SERVICE_PORT', value: apiserver.port },
      ],
    };
    return {
      // The CRD may exist already (other tests apply it); the release adopts it and keeps it on uninstall.
      crds: { install: true, keep: true },
      etcd: { endpoints: [podValue('podEtcdEndpoints')] },
      operator: {
        watchNamespace: o.clusterWideOperator === true ? '' : this.namespace,
        logLevel: 'debug',
        nodeSelector: onOurNode,
        ...operator,
      },
      consumer: {
        enabled: true,
        replicaCount: o.replicas,
        target: o.target,
        image: imageValues(refs[o.consumerImage ?? 'service'] ?? ''),
        ...(o.agent === true && {
          agent: { enabled: true, image: imageValues(refs['agent'] ?? '') },
        }),
        kafka: {
          brokers: [podValue('podKafkaBrokers')],
          topics: [o.topic],
          consumerGroup: o.group,
        },
        drainTimeoutSeconds: o.drainTimeoutSeconds,
        preStop: { sleepSeconds: o.preStopSleepSeconds },
        env: o.consumerEnv ?? {},
        nodeSelector: onOurNode,
        ...o.consumerValues,
      },
    };
  }

  /** Starts the node and runs `helm install`; the caller waits for what it needs to be ready. */
  async install(): Promise<void> {
    await this.#startNode();
    const valuesFile = join(this.logDir, 'values.yaml');
    writeFileSync(valuesFile, stringify(this.values()));
    await helm([
      'install', this.release, chartDir,
      '--namespace', this.namespace, '--create-namespace',
      '--take-ownership',
      '--values', valuesFile,
    ]); // prettier-ignore
  }

  /**
   * The node, with the operator's, the consumer's (and the agent's) images imported, and every
   * container of the namespace followed into logFile() (the real kubelet drops a pod's logs with the pod).
   */
  async #startNode(): Promise<void> {
    const images = await buildImages();
    this.#imageRefs = images.refs;
    const o = this.options;
    const names = ['operator', o.consumerImage ?? 'service', ...(o.agent === true ? ['agent'] : [])];
    const load = names.map((target) => {
      const ref = images.refs[target];
      if (ref === undefined) throw new Error(`build-images.sh built no ${target} image`);
      return ref;
    });
    this.#realNode = await RealNode.start({
      dir: this.logDir,
      nodeName: this.nodeName,
      kubeconfig: inject('kubeconfig'),
      toolsBin: inject('toolsBin'),
      images,
      load,
    });
    console.log(`real node ${this.nodeName} Ready ${Math.round(this.#realNode.startMs)} ms after start`);
    this.#podLogs = await PodLogs.follow(kubeConfig(), this.namespace, this.logDir);
  }

  /**
   * Writes a MaintenanceWindow for the consumers' key and selector (drain timeout 10 s) and
   * `kubectl apply`s it; returns its name.
   */
  async applyWindow(mode: 'drain' | 'pause', reason = `e2e: ${mode} for a broker upgrade`): Promise<string> {
    const name = uniqueName(`e2e-${mode}`);
    const file = join(this.logDir, `${name}.yaml`);
    writeFileSync(
      file,
      stringify({
        apiVersion: 'kmaint.io/v1alpha1',
        kind: 'MaintenanceWindow',
        metadata: { name, namespace: this.namespace },
        spec: {
          target: { name: this.options.target, selector: { matchLabels: this.selector } },
          mode,
          drainTimeout: '10s',
          reason,
        },
      }),
    );
    await kubectl(['apply', '-f', file]);
    return name;
  }

  /** `kubectl wait` until the window's Drained condition is True. */
  async waitDrained(window: string): Promise<void> {
    await kubectl([
      'wait',
      '--for=condition=Drained',
      `mw/${window}`,
      '-n',
      this.namespace,
      '--timeout=120s',
    ]);
  }

  /** `kubectl delete` waits for the object to go, i.e. for the finalizer to have turned the key off. */
  async deleteWindow(window: string): Promise<void> {
    await kubectl(['delete', 'mw', window, '-n', this.namespace, '--timeout=60s']);
  }

  async consumerPods(): Promise<V1Pod[]> {
    const labelSelector = Object.entries(this.selector)
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector });
    return pods.items.filter((p) => p.metadata?.deletionTimestamp === undefined);
  }

  async operatorPods(): Promise<V1Pod[]> {
    const labelSelector = `app.kubernetes.io/name=kmaint-operator,app.kubernetes.io/instance=${this.release}`;
    return (await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector })).items;
  }

  /** Messages processed so far, summed over the consumer pods' /messages/stats. */
  async totalProcessed(): Promise<number> {
    const stats = await Promise.all((await this.consumerPods()).map((p) => podStats(this.url(p))));
    return stats.reduce((sum, s) => sum + s.processed, 0);
  }

  /** Pod name → ready, as the consumer Service's EndpointSlices list them. */
  async endpoints(): Promise<Map<string, boolean>> {
    const slices = await this.discovery.listNamespacedEndpointSlice({
      namespace: this.namespace,
      labelSelector: `kubernetes.io/service-name=${consumerName}`,
    });
    const found = new Map<string, boolean>();
    for (const endpoint of slices.items.flatMap((s) => s.endpoints ?? [])) {
      const pod = endpoint.targetRef?.name;
      if (pod !== undefined) found.set(pod, endpoint.conditions?.ready === true);
    }
    return found;
  }

  /**
   * Where a pod's consumer listens: its pod IP (the host reaches the bridge), which only the pod
   * object tells.
   */
  url(pod: V1Pod): string {
    const ip = pod.status?.podIP;
    if (ip === undefined) throw new Error(`pod ${podName(pod)} has no pod IP yet`);
    return `http://${ip}:${consumerPort}`;
  }

  /**
   * Waits until `replicas` consumer pods and the operator pod are Running and Ready and the Service's
   * EndpointSlice lists exactly those consumers as ready; returns the consumer pods. On timeout it prints
   * the diagnostics first.
   */
  async waitAllReady(timeoutMs = 180_000): Promise<V1Pod[]> {
    try {
      await waitFor(async () => (await this.operatorPods()).some(isReady), {
        message: 'the operator pod to be Ready',
        timeoutMs,
      });
      return await waitFor(
        async () => {
          const pods = await this.consumerPods();
          if (pods.length !== this.options.replicas || !pods.every(isReady)) return undefined;
          const endpoints = await this.endpoints();
          const names = pods.map((p) => p.metadata?.name ?? '');
          const listed = names.every((n) => endpoints.get(n) === true) && endpoints.size === names.length;
          return listed ? pods : undefined;
        },
        {
          message: `${this.options.replicas} consumer pods Ready and ready in the EndpointSlice`,
          timeoutMs,
        },
      );
    } catch (err) {
      console.log(await this.diagnostics());
      throw err;
    }
  }

  /** A container's log (PodLogs follows it), also after its pod is gone. */
  logFile(pod: string, container = 'consumer'): string {
    return join(this.logDir, `${this.namespace}_${pod}_${container}.log`);
  }

  /** What a person would look at when the test fails: objects, events, and every container's log. */
  async diagnostics(): Promise<string> {
    const ns = ['-n', this.namespace];
    const sections: string[] = [];
    const section = async (title: string, args: string[]) => {
      const out = await kubectl(args).then(
        (r) => r.stdout,
        (err: unknown) => String(err),
      );
      sections.push(`--- ${title}\n${out}`);
    };
    await section('pods', ['get', 'pods', '-o', 'wide', ...ns]);
    await section('pod conditions', [
      'get', 'pods', ...ns, '-o',
      'custom-columns=NAME:.metadata.name,PHASE:.status.phase,READY:.status.conditions[?(@.type=="Ready")].status,DELETING:.metadata.deletionTimestamp',
    ]); // prettier-ignore
    await section('endpointslices', ['get', 'endpointslices', '-o', 'yaml', ...ns]);
    await section('windows', ['get', 'mw', '-o', 'yaml', ...ns]);
    await section('events', ['get', 'events', '--sort-by=.lastTimestamp', ...ns]);
    let files: string[] = [];
    try {
      files = readdirSync(this.logDir).filter((f) => f.endsWith('.log'));
    } catch {
      // No kubelet ran: nothing logged.
    }
    for (const file of files) sections.push(`--- log ${file}\n${logTail(join(this.logDir, file), 60)}`);
    if (this.#realNode !== undefined)
      sections.push(`--- kubelet log\n${logTail(join(this.logDir, 'kubelet.log'), 60)}`);
    return sections.join('\n');
  }

  /**
   * helm uninstall, then waits for the pods to end (the kubelet SIGTERMs them, so the consumers leave
   * their group cleanly), then deletes the namespace and the node.
   */
  async uninstall(): Promise<void> {
    await helm(['uninstall', this.release, '--namespace', this.namespace, '--wait', '--timeout', '2m']).catch(
      (err: unknown) => console.error(`helm uninstall: ${String(err)}`),
    );
    await waitFor(
      async () => (await this.core.listNamespacedPod({ namespace: this.namespace })).items.length === 0,
      { message: 'the release pods to be gone', timeoutMs: 90_000 },
    ).catch((err: unknown) => console.error(String(err)));
    await kubectl(['delete', 'namespace', this.namespace, '--wait=false']).catch((err: unknown) =>
      console.error(String(err)),
    );
    this.#podLogs?.stop();
    await this.#realNode?.stop();
  }
}

export function isReady(pod: V1Pod): boolean {
  return (
    pod.status?.phase === 'Running' &&
    pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true
  );
}

export function podName(pod: V1Pod): string {
  return pod.metadata?.name ?? '';
}
