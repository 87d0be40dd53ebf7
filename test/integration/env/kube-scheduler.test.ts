import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { NodeHeartbeat } from '../../env/node.ts';
import { kubeConfig } from '../../env/tools.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);

describe('kube-scheduler of the test environment', () => {
  const namespace = uniqueName('env-sched');
  let node: NodeHeartbeat;

  beforeAll(async () => {
    node = await NodeHeartbeat.register(kc, { name: uniqueName('env-sched-node') });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await node.stop({ remove: true });
  });

  it('binds a Pod to a Ready node once the node-lifecycle controller lifts its not-ready taint', async () => {
    await waitFor(async () => ((await core.readNode({ name: node.name })).spec?.taints ?? []).length === 0, {
      message: 'the new node to lose its not-ready taint',
      timeoutMs: 60_000,
    });
    await waitFor(
      () =>
        core.createNamespacedPod({
          namespace,
          body: {
            metadata: { name: 'scheduled' },
            spec: {
              nodeSelector: { 'kubernetes.io/hostname': node.name },
              containers: [{ name: 'app', image: 'kmaint.local/app:1' }],
            },
          },
        }),
      { message: 'the pod to be created' },
    );
    const boundTo = await waitFor(
      async () => (await core.readNamespacedPod({ name: 'scheduled', namespace })).spec?.nodeName,
      { message: 'the scheduler to bind the pod', timeoutMs: 60_000 },
    );
    expect(boundTo).toBe(node.name);
  });
});
