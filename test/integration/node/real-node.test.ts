import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscoveryV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Cluster } from '../../../service/test/integration/api/cluster.ts';
import {
  createNamespace,
  kube,
  removeNamespace,
  type Kube,
} from '../../../operator/test/integration/support.ts';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { kubectl, podValue } from '../../env/tools.ts';
import { buildImages, type Images } from '../../env/images.ts';
import { onPodNetwork } from '../../env/pod-network.ts';
import { RealNode } from '../../env/real-node.ts';

// kmaint's service image as a pod on a real node (containerd and the kubelet, test/env/real-node.ts)
// of the test control plane: the kubelet's own readiness probe, the real endpoint-slice controller
// and the kubelet's own termination. The pod is on the CNI bridge and reaches the test environment's
// Kafka and etcd at the host's address there (test/env/pod-network.ts).

let images: Images;
let node: RealNode;
let dir = '';
let k: Kube;
let namespace = '';

beforeAll(async () => {
  images = await buildImages();
  dir = mkdtempSync(join(tmpdir(), 'kmaint-node-'));
  const service = images.refs['service'];
  if (service === undefined) throw new Error('build-images.sh built no service image');
  node = await RealNode.start({
    dir,
    nodeName: uniqueName('real-node'),
    kubeconfig: inject('kubeconfig'),
    toolsBin: inject('toolsBin'),
    images,
    load: [service],
  });
  console.log(`real node ${node.name} Ready ${Math.round(node.startMs)} ms after start`);
  k = kube();
  namespace = uniqueName('real-node');
  await createNamespace(k, namespace);
}, 900_000);

afterAll(async () => {
  if (namespace !== '') await removeNamespace(k, namespace).catch(() => undefined);
  await node?.stop();
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
}, 120_000);

function readyCondition(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

async function endpointReady(service: string): Promise<boolean | undefined> {
  const slices = await k.kc
    .makeApiClient(DiscoveryV1Api)
    .listNamespacedEndpointSlice({ namespace, labelSelector: `kubernetes.io/service-name=${service}` });
  const endpoints = slices.items.flatMap((s) => s.endpoints);
  return endpoints.length === 1 ? endpoints[0]?.conditions?.ready : undefined;
}

describe('a real node (containerd + kubelet)', () => {
  it('reports Ready to the control plane', async () => {
    expect(await node.ready()).toBe(true);
  });

  it('runs the service image: Ready by the kubelet’s probe on /readyz, NotReady and out of the EndpointSlice on the switch, SIGTERM on delete exits 0', async () => {
    const cluster = new Cluster();
    await cluster.connect();
    const name = uniqueName('service');
    try {
      const topic = uniqueName('node-topic');
      const key = `/maintenance/${uniqueName('node')}`;
      await cluster.ensureTopics([topic], 2);
      const port = 8083;
      const labels = { app: name };
      const finalizer = 'kmaint.test/keep-status';
      await k.core.createNamespacedPod({
        namespace,
        body: {
          // The finalizer keeps the pod object after the kubelet is done, so its exit code can be read.
          metadata: { name, labels, finalizers: [finalizer] },
          spec: {
            nodeName: node.name,
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 60,
            restartPolicy: 'Never',
            containers: [
              {
                name: 'service',
                image: images.refs['service'],
                imagePullPolicy: 'Never',
                ports: [{ name: 'http', containerPort: port }],
                env: Object.entries({
                  HTTP_PORT: String(port),
                  KAFKA_BROKERS: podValue('podKafkaBrokers'),
                  ETCD_ENDPOINTS: podValue('podEtcdEndpoints'),
                  KAFKA_TOPICS: topic,
                  KAFKA_CONSUMER_GROUP: uniqueName('node-group'),
                  MAINTENANCE_KEY: key,
                  POD_NAME: name,
                }).map(([n, value]) => ({ name: n, value })),
                // The chart's consumer probe and security context.
                readinessProbe: {
                  httpGet: { path: '/readyz', port: 'http' },
                  periodSeconds: 5,
                  failureThreshold: 1,
                },
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      });
      await k.core.createNamespacedService({
        namespace,
        body: {
          metadata: { name },
          spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
        },
      });
      const read = () => k.core.readNamespacedPod({ namespace, name });

      await waitFor(async () => readyCondition(await read()), {
        timeoutMs: 180_000,
        intervalMs: 500,
        message: 'the pod Ready by the kubelet’s probe',
      });
      await waitFor(async () => (await endpointReady(name)) === true, {
        timeoutMs: 60_000,
        message: 'the endpoint ready in the EndpointSlice',
      });
      const podIP = (await read()).status?.podIP ?? '';
      expect(onPodNetwork(podIP), podIP).toBe(true);

      await cluster.switchTo(key, 'true');
      await waitFor(async () => !readyCondition(await read()), {
        timeoutMs: 60_000,
        intervalMs: 500,
        message: 'the pod NotReady after the switch',
      });
      await waitFor(async () => (await endpointReady(name)) === false, {
        timeoutMs: 60_000,
        message: 'the endpoint not ready in the EndpointSlice',
      });

      await k.core.deleteNamespacedPod({ namespace, name });
      const exited = await waitFor(
        async () => {
          const pod = await read();
          return pod.status?.containerStatuses?.[0]?.state?.terminated;
        },
        { timeoutMs: 120_000, intervalMs: 500, message: 'the container terminated after delete' },
      );
      expect(exited.exitCode).toBe(0);
      expect(exited.reason).toBe('Completed');
    } finally {
      // Also when a step failed: a pod kept by its finalizer would hold up the namespace's removal.
      await kubectl([
        'patch',
        'pod',
        name,
        '-n',
        namespace,
        '--type=json',
        '-p',
        '[{"op":"remove","path":"/metadata/finalizers"}]',
      ]).catch(() => undefined);
      await cluster.close();
    }
  });
});
