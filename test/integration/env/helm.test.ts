import { join } from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { uniqueName } from '../../env/helpers.ts';
import { helm, kubeConfig } from '../../env/tools.ts';

describe('helm of the test environment', () => {
  it('installs a tiny chart into the apiserver', async () => {
    const namespace = uniqueName('env-helm');
    const release = uniqueName('tiny');
    const chart = join(import.meta.dirname, 'fixtures', 'tiny-chart');
    await helm([
      'install',
      release,
      chart,
      '--namespace',
      namespace,
      '--create-namespace',
      '--set',
      'greeting=hi',
      '--wait',
    ]);

    const status = JSON.parse(
      (await helm(['status', release, '--namespace', namespace, '--output', 'json'])).stdout,
    ) as {
      info: { status: string };
    };
    expect(status.info.status).toBe('deployed');
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const configMap = await core.readNamespacedConfigMap({ name: `${release}-greeting`, namespace });
    expect(configMap.data).toEqual({ greeting: 'hi' });
  });
});
