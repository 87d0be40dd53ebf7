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
import { PROVISIONAL_TTL_SECONDS } from '../../src/etcd/switches.ts';
import { FINALIZER } from '../../src/kube/resources.ts';
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

  /** An operator in the namespace as a service account whose Role holds the operator's rules, changed. */
  const operatorWithRules = async (
    namespace: string,
    role: string,
    change: (rules: V1PolicyRule[]) => V1PolicyRule[],
  ) => {
    const account = 'kmaint-operator';
    await k.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: account } } });
    const [clusterRole] = loadAllYaml(
      readFileSync(join(repoRoot, 'operator', 'rbac', 'role.yaml'), 'utf8'),
    ) as (KubernetesObject & { rules: V1PolicyRule[] })[];
    await KubernetesObjectApi.makeApiClient(k.kc).create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: role, namespace },
      rules: change(clusterRole?.rules ?? []),
    } as KubernetesObject);
    await rbac.createNamespacedRoleBinding({
      namespace,
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
        subjects: [{ kind: 'ServiceAccount', name: account, namespace }],
      },
    });
    return startLocalOperator(namespace, {
      KUBECONFIG: await serviceAccountKubeconfig(k, namespace, account, dir),
    });
  };

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
    await createNamespace(k, namespace);
    // The operator's own rules, less the status subresource: every status patch gets a 403.
    const operator = await operatorWithRules(namespace, 'no-status', (rules) =>
      rules.filter((r) => !(r.resources ?? []).includes('maintenancewindows/status')),
    );
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

  it('a new window whose finalizer is refused turns its key on provisionally; deleted while no operator runs, its key goes by itself', async () => {
    const namespace = uniqueName('mw-nofin');
    await createNamespace(k, namespace);
    // The operator's own rules, less writes to the windows themselves: every finalizer patch gets a 403,
    // as if it waited in the apiserver for ever.
    const operator = await operatorWithRules(namespace, 'no-finalizer', (rules) =>
      rules.map((r) =>
        (r.resources ?? []).includes('maintenancewindows')
          ? { ...r, verbs: r.verbs.filter((v) => v !== 'patch' && v !== 'update') }
          : r,
      ),
    );
    let stopped = false;
    stops.push(async () => {
      if (!stopped) await operator.stop();
    });

    const target = uniqueName('svc');
    const key = `/maintenance/${target}`;
    await createWindow(k, namespace, 'w', { target: { name: target } });
    const kv = await waitFor(
      async () => {
        const found = (await etcd.get(key).exec()).kvs[0];
        return found?.value.toString().includes('"enabled":true') ? found : undefined;
      },
      { message: 'the key on while the finalizer is refused' },
    );
    expect(kv.lease).not.toBe('0');
    await waitFor(
      async () => {
        const { stdout } = await kubectl(['get', 'events', '-n', namespace, '-o', 'json']);
        const items = (JSON.parse(stdout) as { items: { reason: string }[] }).items;
        return items.some((e) => e.reason === REASON.FinalizerWriteFailed);
      },
      { message: 'a Warning event saying the finalizer could not be added' },
    );
    expect((await getWindow(k, namespace, 'w')).metadata.finalizers ?? []).not.toContain(FINALIZER);

    // The operator goes; the window is deleted while none runs, and goes at once (no finalizer holds it).
    await operator.stop();
    stopped = true;
    await k.custom.deleteNamespacedCustomObject({
      group: 'kmaint.io',
      version: 'v1alpha1',
      plural: 'maintenancewindows',
      namespace,
      name: 'w',
    });
    const deletedAt = Date.now();
    await waitFor(async () => (await etcd.get(key).exec()).kvs.length === 0, {
      message: 'the key deleted with the lease',
      timeoutMs: (PROVISIONAL_TTL_SECONDS + 15) * 1000,
    });
    console.log(
      `key gone ${Date.now() - deletedAt} ms after the window was deleted (lease TTL ${PROVISIONAL_TTL_SECONDS} s)`,
    );
  }, 90_000);

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
