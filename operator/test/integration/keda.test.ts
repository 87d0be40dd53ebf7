import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import { applyYamlFile } from '../../../test/env/tools.ts';
import { KEDA_PAUSED, PAUSED_BY } from '../../src/core/autoscaling.ts';
import {
  createNamespace,
  createWindow,
  deleteWindow,
  etcdClient,
  installCrd,
  kube,
  patchWindowSpec,
  readSwitch,
  removeNamespaces,
  repoRoot,
  startLocalOperator,
  windowGone,
} from './support.ts';

const k = kube();
const etcd = etcdClient();
const KEDA = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' };

async function scaledObject(
  namespace: string,
  name: string,
  labels: Record<string, string>,
  annotations = {},
) {
  await k.custom.createNamespacedCustomObject({
    ...KEDA,
    namespace,
    body: {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name, namespace, labels, annotations },
      spec: {
        scaleTargetRef: { name: `${name}-deployment` },
        triggers: [
          { type: 'kafka', metadata: { topic: 'orders', consumerGroup: 'orders', lagThreshold: '50' } },
        ],
      },
    },
  });
}

async function annotations(namespace: string, name: string): Promise<Record<string, string>> {
  const so = (await k.custom.getNamespacedCustomObject({ ...KEDA, namespace, name })) as {
    metadata: { annotations?: Record<string, string> };
  };
  return so.metadata.annotations ?? {};
}

describe('KEDA ScaledObjects are paused for the window (KEDA CRD from its Go module, real apiserver)', () => {
  beforeAll(async () => {
    const { stdout } = await promisify(execFile)('bash', [join(repoRoot, 'test', 'env', 'fetch-keda.sh')]);
    await applyYamlFile(stdout.trim(), k.kc);
    await waitFor(() => k.custom.listClusterCustomObject(KEDA), {
      message: 'the ScaledObject CRD served',
      timeoutMs: 60_000,
    });
    await installCrd(k);
  });
  afterAll(async () => {
    await removeNamespaces(k);
    etcd.close();
  });

  it('pauses the ScaledObjects a window names or selects while it is active, and restores what it found', async () => {
    const namespace = uniqueName('mw-keda');
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace);
    try {
      const target = uniqueName('svc');
      await scaledObject(namespace, 'by-label', { app: target });
      await scaledObject(namespace, 'was-unpaused', { app: target }, { [KEDA_PAUSED]: 'false' });
      await scaledObject(namespace, 'by-name', {});
      await scaledObject(namespace, 'unrelated', { app: 'other' });
      await createWindow(k, namespace, 'w', {
        target: { name: target },
        autoscaling: {
          scaledObjects: { names: ['by-name', 'missing'], selector: { matchLabels: { app: target } } },
        },
      });
      await waitFor(async () => (await readSwitch(etcd, `/maintenance/${target}`))?.enabled === true, {
        message: 'key on',
      });
      for (const name of ['by-label', 'was-unpaused', 'by-name']) {
        await waitFor(async () => (await annotations(namespace, name))[KEDA_PAUSED] === 'true', {
          message: `${name} paused`,
        });
        expect((await annotations(namespace, name))[PAUSED_BY]).toBe(`${namespace}/w`);
      }
      expect(await annotations(namespace, 'unrelated')).toEqual({});

      // Suspending closes the window: everything goes back as it was.
      await patchWindowSpec(k, namespace, 'w', { suspend: true });
      await waitFor(async () => (await annotations(namespace, 'was-unpaused'))[KEDA_PAUSED] === 'false', {
        message: 'was-unpaused back to "false"',
      });
      await waitFor(async () => Object.keys(await annotations(namespace, 'by-label')).length === 0, {
        message: 'by-label without annotations again',
      });
      expect(await annotations(namespace, 'by-name')).toEqual({});

      // Active again, then deleted: the finalizer waits until the ScaledObjects are restored.
      await patchWindowSpec(k, namespace, 'w', { suspend: false });
      await waitFor(async () => (await annotations(namespace, 'by-name'))[KEDA_PAUSED] === 'true', {
        message: 'paused again',
      });
      await deleteWindow(k, namespace, 'w');
      await waitFor(() => windowGone(k, namespace, 'w'), { message: 'window gone' });
      expect(await annotations(namespace, 'by-name')).toEqual({});
      expect(await annotations(namespace, 'was-unpaused')).toEqual({ [KEDA_PAUSED]: 'false' });
    } finally {
      await operator.stop();
    }
  });
});
