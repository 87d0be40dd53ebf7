import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { StandInKubelet } from '../../env/kubelet.ts';
import { kubeConfig } from '../../env/tools.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const tinyHttp = join(import.meta.dirname, 'fixtures', 'tiny-http.ts');

describe('the stand-in kubelet with a native sidecar (an init container with restartPolicy Always)', () => {
  const namespace = uniqueName('env-sidecar');
  const nodeName = uniqueName('env-sidecar-node');
  const logDir = join(inject('envDir'), 'kubelet', nodeName);
  let kubelet: StandInKubelet;

  beforeAll(async () => {
    kubelet = await StandInKubelet.start({
      kubeConfig: kc,
      nodeName,
      logDir,
      images: {
        'kmaint.local/side': { command: process.execPath, args: [tinyHttp] },
        // The app reaches its sidecar on localhost, at the port the kubelet gave it here.
        'kmaint.local/app': (_c, _pod, ports) => ({
          command: process.execPath,
          args: [tinyHttp],
          overrideEnv: { SIDECAR_URL: `http://127.0.0.1:${ports['side']}` },
        }),
      },
    });
    await core.createNamespace({ body: { metadata: { name: namespace } } });
  });
  afterAll(async () => {
    await kubelet.stop({ removeNode: true });
  });

  it('starts it first, counts its readiness toward the pod’s, and stops it after the app', async () => {
    const probe = { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1, failureThreshold: 1 };
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'pod' },
        spec: {
          nodeName,
          terminationGracePeriodSeconds: 10,
          initContainers: [
            {
              name: 'side',
              image: 'kmaint.local/side:1',
              restartPolicy: 'Always',
              ports: [{ name: 'http', containerPort: 8089 }],
              // A process needs a moment to listen: a startup probe that fails once would kill it.
              startupProbe: { ...probe, failureThreshold: 30 },
              readinessProbe: probe,
            },
          ],
          containers: [
            {
              name: 'app',
              image: 'kmaint.local/app:1',
              env: [{ name: 'SIDECAR_URL', value: 'http://127.0.0.1:8089' }],
            },
          ],
        },
      },
    });
    let last: unknown;
    const ready = (want: boolean) =>
      waitFor(
        async () => {
          const pod = await core.readNamespacedPod({ namespace, name: 'pod' });
          last = pod.status;
          const r = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
          return r === want ? pod : undefined;
        },
        { message: `the pod ${want ? '' : 'not '}Ready` },
      ).catch((err: unknown) => {
        const logs = readdirSync(logDir).map((f) => `--- ${f}\n${readFileSync(join(logDir, f), 'utf8')}`);
        throw new Error(
          `${String(err)}\nstatus: ${JSON.stringify(last)}\nkubelet errors: ${kubelet.errors.map(String).join('; ')}\n${logs.join('\n')}`,
        );
      });
    const pod = await ready(true);
    const side = pod.status?.initContainerStatuses?.[0];
    const app = pod.status?.containerStatuses?.[0];
    expect(side).toMatchObject({ name: 'side', ready: true, started: true });
    expect(app).toMatchObject({ name: 'app', ready: true });
    expect(new Date(side?.state?.running?.startedAt ?? 0).getTime()).toBeLessThanOrEqual(
      new Date(app?.state?.running?.startedAt ?? 0).getTime(),
    );
    expect(pod.status?.conditions?.find((c) => c.type === 'Initialized')?.status).toBe('True');

    const appUrl = kubelet.endpoint(namespace, 'pod')?.url;
    const sideUrl = kubelet.endpoint(namespace, 'pod', 'side')?.url;
    // The app has no probes: Ready as soon as it runs, perhaps before it listens.
    const env = await waitFor(
      async () => (await (await fetch(`${appUrl}/env`)).json()) as Record<string, string>,
      { message: 'the app to answer' },
    );
    expect(env['SIDECAR_URL']).toBe(sideUrl);

    await fetch(`${sideUrl}/unready`, { method: 'POST' });
    await ready(false);

    await core.deleteNamespacedPod({ namespace, name: 'pod' });
    await waitFor(
      async () => {
        try {
          await core.readNamespacedPod({ namespace, name: 'pod' });
          return false;
        } catch {
          return true;
        }
      },
      { message: 'the pod to be gone' },
    );
    // Each process logs its SIGTERM last: the sidecar's came after the app had exited.
    const logOf = (c: string) => join(logDir, `${namespace}_pod_${c}.log`);
    expect(statSync(logOf('side')).mtimeMs).toBeGreaterThan(statSync(logOf('app')).mtimeMs);
  });
});
