import { randomInt } from 'node:crypto';
import {
  CoreV1Api,
  DiscoveryV1Api,
  PatchStrategy,
  setHeaderOptions,
  type V1PodCondition,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { NodeHeartbeat } from '../../env/node.ts';
import { kubeConfig } from '../../env/tools.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);
const strategicMerge = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

describe('kube-controller-manager of the test environment', () => {
  const namespace = uniqueName('env-cm');
  let node: NodeHeartbeat;

  beforeAll(async () => {
    node = await NodeHeartbeat.register(kc, { name: uniqueName('env-cm-node') });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await node.stop({ remove: true });
  });

  it('builds an EndpointSlice for a Service and flips its endpoint with the Pod Ready condition', async () => {
    const labels = { app: uniqueName('web') };
    await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'web' },
        spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    // The service-account controller makes the namespace's default account shortly after the namespace.
    await waitFor(
      () =>
        core.createNamespacedPod({
          namespace,
          body: {
            metadata: { name: 'web-0', labels },
            spec: { nodeName: node.name, containers: [{ name: 'web', image: 'kmaint.local/web:1' }] },
          },
        }),
      { message: 'the pod to be created' },
    );
    const ip = `198.18.${randomInt(1, 255)}.${randomInt(1, 255)}`;
    const setReady = (ready: boolean) => {
      const status = ready ? 'True' : 'False';
      const conditions: V1PodCondition[] = ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map(
        (type) => ({
          type,
          status: type === 'Ready' || type === 'ContainersReady' ? status : 'True',
          lastTransitionTime: new Date(),
        }),
      );
      return core.patchNamespacedPodStatus(
        {
          name: 'web-0',
          namespace,
          body: { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions } },
        },
        strategicMerge,
      );
    };
    const endpointReady = async () => {
      const slices = await discovery.listNamespacedEndpointSlice({
        namespace,
        labelSelector: 'kubernetes.io/service-name=web',
      });
      const endpoint = slices.items.flatMap((s) => s.endpoints).find((e) => e?.addresses.includes(ip));
      return endpoint?.conditions?.ready;
    };

    await setReady(true);
    await waitFor(async () => (await endpointReady()) === true, { message: 'a ready endpoint for the pod' });
    await setReady(false);
    await waitFor(async () => (await endpointReady()) === false, {
      message: 'the endpoint to turn not ready',
    });
    expect(await endpointReady()).toBe(false);
  });
});
