import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppsV1Api, CoreV1Api, DiscoveryV1Api, Watch, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { StandInKubelet } from '../../env/kubelet.ts';
import { kubeConfig } from '../../env/tools.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const apps = kc.makeApiClient(AppsV1Api);
const discovery = kc.makeApiClient(DiscoveryV1Api);

describe('the stand-in kubelet', () => {
  const namespace = uniqueName('env-kubelet');
  const nodeName = uniqueName('env-kubelet-node');
  const image = 'kmaint.local/tiny-http';
  let kubelet: StandInKubelet;

  beforeAll(async () => {
    kubelet = await StandInKubelet.start({
      kubeConfig: kc,
      nodeName,
      logDir: join(inject('envDir'), 'kubelet', nodeName),
      images: {
        [image]: { command: process.execPath, args: [join(import.meta.dirname, 'fixtures', 'tiny-http.ts')] },
      },
    });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await kubelet.stop({ removeNode: true });
  });

  it('runs a Deployment pod as a local process behind its Service, probes it, and stops it on deletion', async () => {
    const labels = { app: 'tiny' };
    await core.createNamespacedService({
      namespace,
      body: {
        metadata: { name: 'tiny' },
        spec: { selector: labels, ports: [{ port: 80, targetPort: 'http' }] },
      },
    });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: 'tiny' },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              nodeSelector: { 'kubernetes.io/hostname': nodeName },
              terminationGracePeriodSeconds: 10,
              containers: [
                {
                  name: 'web',
                  image: `${image}:1`,
                  ports: [{ name: 'http', containerPort: 8080 }],
                  env: [
                    { name: 'GREETING', value: 'hello' },
                    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  ],
                  readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
                  livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 5 },
                },
              ],
            },
          },
        },
      },
    });

    const readyPod = () =>
      waitFor(
        async () => {
          const pods = await core.listNamespacedPod({ namespace, labelSelector: 'app=tiny' });
          return pods.items.find(
            (p) =>
              p.metadata?.deletionTimestamp === undefined &&
              p.status?.phase === 'Running' &&
              p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
          );
        },
        { message: 'a Running and Ready pod', timeoutMs: 90_000 },
      );
    const pod: V1Pod = await readyPod();
    const name = pod.metadata?.name ?? '';
    const podIP = pod.status?.podIP ?? '';
    expect(podIP).toMatch(/^198\.18\./);
    expect(pod.spec?.nodeName).toBe(nodeName);

    const endpoint = kubelet.endpoint(namespace, name);
    const env = (await (await fetch(`${endpoint?.url}/env`)).json()) as Record<string, string>;
    expect(env).toMatchObject({ GREETING: 'hello', POD_NAME: name, POD_NAMESPACE: namespace, POD_IP: podIP });
    expect(env['PORT']).toBe(String(endpoint?.port));

    const endpointReady = async () => {
      const slices = await discovery.listNamespacedEndpointSlice({
        namespace,
        labelSelector: 'kubernetes.io/service-name=tiny',
      });
      const found = slices.items.flatMap((s) => s.endpoints).find((e) => e?.addresses.includes(podIP));
      return found?.targetRef?.name === name ? found.conditions?.ready : undefined;
    };
    await waitFor(async () => (await endpointReady()) === true, { message: 'the pod as a ready endpoint' });

    // A failing readiness probe takes the pod out of its Service, as a drained consumer's /readyz would.
    await fetch(`${endpoint?.url}/unready`, { method: 'POST' });
    await waitFor(async () => (await endpointReady()) === false, {
      message: 'the endpoint to turn not ready',
    });
    const unready = await core.readNamespacedPod({ name, namespace });
    expect(unready.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('False');
    expect(unready.status?.containerStatuses?.[0]).toMatchObject({
      ready: false,
      started: true,
      restartCount: 0,
    });

    const logFile = kubelet.logFile(namespace, name) ?? '';
    // The last status the kubelet reports before the object goes says how the process ended.
    const endings: { phase?: string; exitCode?: number }[] = [];
    const watch = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      { fieldSelector: `metadata.name=${name}` },
      (_type, pod: V1Pod) => {
        const terminated = pod.status?.containerStatuses?.[0]?.state?.terminated;
        if (terminated) endings.push({ phase: pod.status?.phase, exitCode: terminated.exitCode });
      },
      () => undefined,
    );
    await core.deleteNamespacedPod({ name, namespace });
    await waitFor(() => !kubelet.runningPods().includes(`${namespace}/${name}`), {
      message: 'the pod process to end',
      timeoutMs: 20_000,
    });
    expect(readFileSync(logFile, 'utf8')).toContain('SIGTERM received');
    await waitFor(() => endings.length > 0, { message: 'a terminated container status before deletion' });
    watch.abort();
    expect(endings.at(-1)).toEqual({ phase: 'Succeeded', exitCode: 0 });
    await waitFor(
      async () => !(await core.listNamespacedPod({ namespace })).items.some((p) => p.metadata?.name === name),
      { message: 'the pod object to be removed' },
    );
    // The ReplicaSet replaces it, and the kubelet runs the new pod.
    const replacement = await readyPod();
    expect(replacement.metadata?.name).not.toBe(name);
    expect(kubelet.errors).toEqual([]);
  });
});
