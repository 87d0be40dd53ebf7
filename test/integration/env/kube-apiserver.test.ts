import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, Watch, type KubernetesObject } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { applyYamlFile, kubeConfig } from '../../env/tools.ts';

const group = 'envsmoke.kmaint.io';
const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);

const widget = (name: string, min: number, max: number) => ({
  apiVersion: `${group}/v1`,
  kind: 'Widget',
  metadata: { name },
  spec: { min, max },
});

describe('kube-apiserver of the test environment', () => {
  const namespace = uniqueName('env-api');

  beforeAll(async () => {
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await applyYamlFile(join(import.meta.dirname, 'fixtures', 'widget-crd.yaml'), kc);
    // A CRD serves only once established; creating objects before that gets 404.
    await waitFor(
      () => custom.listNamespacedCustomObject({ group, version: 'v1', namespace, plural: 'widgets' }),
      {
        message: 'the Widget CRD to be served',
      },
    );
  });

  it('keeps the CEL rule of a CRD applied from YAML, which rejects a bad object with 422', async () => {
    const create = (body: object) =>
      custom.createNamespacedCustomObject({ group, version: 'v1', namespace, plural: 'widgets', body });
    await create(widget(uniqueName('good'), 1, 2));
    const error = await create(widget(uniqueName('bad'), 3, 2)).then(
      () => undefined,
      (err: unknown) => err as { code?: number; body?: string },
    );
    expect(error?.code).toBe(422);
    expect(String(error?.body)).toContain('spec.min must not exceed spec.max');
  });

  it('streams a created object to a watch', async () => {
    const name = uniqueName('watched');
    const seen: string[] = [];
    const watch = await new Watch(kc).watch(
      `/apis/${group}/v1/namespaces/${namespace}/widgets`,
      {},
      (phase, obj: KubernetesObject) => seen.push(`${phase} ${obj.metadata?.name}`),
      () => undefined,
    );
    try {
      await custom.createNamespacedCustomObject({
        group,
        version: 'v1',
        namespace,
        plural: 'widgets',
        body: widget(name, 0, 0),
      });
      await waitFor(() => seen.includes(`ADDED ${name}`), { message: `ADDED ${name}`, timeoutMs: 10_000 });
    } finally {
      watch.abort();
    }
  });
});
