import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KubernetesObjectApi,
  loadAllYaml,
  RbacAuthorizationV1Api,
  type KubernetesObject,
  type V1PolicyRule,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import { kubectl } from '../../../test/env/tools.ts';
import { REASON } from '../../src/core/conditions.ts';
import {
  CONDITION,
  condition,
  createNamespace,
  createWindow,
  etcdClient,
  getWindow,
  installCrd,
  kube,
  patchWindowSpec,
  readSwitch,
  removeNamespaces,
  serviceAccountKubeconfig,
  repoRoot,
  startLocalOperator,
} from './support.ts';

const k = kube();
const etcd = etcdClient();
const rbac = k.kc.makeApiClient(RbacAuthorizationV1Api);

describe('the switch comes first (real apiserver and etcd)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kmaint-switch-first-'));
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    await installCrd(k);
  });
  afterAll(async () => {
    for (const stop of stops) await stop();
    await removeNamespaces(k);
    etcd.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a status patch refused with 403 does not hold the key back, and the refusal shows as a Warning event', async () => {
    const namespace = uniqueName('mw-403');
    const account = 'kmaint-operator';
    await createNamespace(k, namespace);
    await k.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: account } } });
    // The operator's own rules, less the status subresource: every status patch gets a 403.
    const [clusterRole] = loadAllYaml(
      readFileSync(join(repoRoot, 'operator', 'rbac', 'role.yaml'), 'utf8'),
    ) as (KubernetesObject & { rules: V1PolicyRule[] })[];
    const rules = (clusterRole?.rules ?? []).filter(
      (r) => !(r.resources ?? []).includes('maintenancewindows/status'),
    );
    await KubernetesObjectApi.makeApiClient(k.kc).create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'no-status', namespace },
      rules,
    } as KubernetesObject);
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: 'no-status' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'no-status' },
        subjects: [{ kind: 'ServiceAccount', name: account, namespace }],
      },
    });
    const operator = await startLocalOperator(namespace, {
      KUBECONFIG: await serviceAccountKubeconfig(k, namespace, account, dir),
    });
    stops.push(() => operator.stop());

    const target = uniqueName('svc');
    await createWindow(k, namespace, 'w', { target: { name: target } });
    await waitFor(async () => (await readSwitch(etcd, `/maintenance/${target}`))?.enabled === true, {
      message: 'the key on although every status patch is refused',
    });
    expect((await getWindow(k, namespace, 'w')).status).toBeUndefined();
    const events = await waitFor(
      async () => {
        const { stdout } = await kubectl(['get', 'events', '-n', namespace, '-o', 'json']);
        const items = (JSON.parse(stdout) as { items: { type: string; reason: string; message: string }[] })
          .items;
        return items.some((e) => e.reason === REASON.StatusWriteFailed) ? items : undefined;
      },
      { message: 'a Warning event saying the status could not be written' },
    );
    const warning = events.find((e) => e.reason === REASON.StatusWriteFailed);
    expect(warning?.type).toBe('Warning');
    expect(warning?.message).toMatch(/403|forbidden/i);
  });

  it('status fields that no longer apply are removed', async () => {
    const namespace = uniqueName('mw-fields');
    await createNamespace(k, namespace);
    const operator = await startLocalOperator(namespace);
    stops.push(() => operator.stop());
    const target = uniqueName('svc');
    await createWindow(k, namespace, 'w', { target: { name: target } });
    await waitFor(async () => (await getWindow(k, namespace, 'w')).status?.windowStart !== undefined, {
      message: 'an open window with a windowStart',
    });
    const start = new Date(Date.now() + 3_600_000).toISOString();
    await patchWindowSpec(k, namespace, 'w', { schedule: { start } });
    const status = await waitFor(
      async () => {
        const s = (await getWindow(k, namespace, 'w')).status;
        return condition(s, CONDITION.Active)?.reason === REASON.NotStarted ? s : undefined;
      },
      { message: 'the window pending again' },
    );
    expect(status).not.toHaveProperty('windowStart');
    expect(status).not.toHaveProperty('windowEnd');
    expect(Date.parse(String(status?.['nextStart']))).toBe(Date.parse(start));
  });
});
