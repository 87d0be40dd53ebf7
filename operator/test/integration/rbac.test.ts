import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  KubernetesObjectApi,
  loadAllYaml,
  RbacAuthorizationV1Api,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../../test/env/helpers.ts';
import { kubectl } from '../../../test/env/tools.ts';
import { FINALIZER } from '../../src/kube/resources.ts';
import {
  CONDITION,
  condition,
  createNamespace,
  createWindow,
  deleteWindow,
  etcdClient,
  getWindow,
  installCrd,
  kube,
  readSwitch,
  removeNamespaces,
  serviceAccountKubeconfig,
  repoRoot,
  startLocalOperator,
  windowGone,
} from './support.ts';

const k = kube();
const etcd = etcdClient();
const rbac = k.kc.makeApiClient(RbacAuthorizationV1Api);

describe('the operator runs with only the rules of operator/rbac/role.yaml (real apiserver RBAC)', () => {
  const namespace = uniqueName('mw-rbac');
  const account = 'kmaint-operator';
  const dir = mkdtempSync(join(tmpdir(), 'kmaint-rbac-'));
  const clusterScoped: { kind: string; name: string }[] = [];
  let stop: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    await installCrd(k);
    await createNamespace(k, namespace);
    await k.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: account } } });
    const api = KubernetesObjectApi.makeApiClient(k.kc);
    const docs = loadAllYaml(
      readFileSync(join(repoRoot, 'operator', 'rbac', 'role.yaml'), 'utf8'),
    ) as KubernetesObject[];
    for (const doc of docs) {
      // The ClusterRole gets a per-test name so it cannot collide with the chart's.
      const name =
        doc.kind === 'ClusterRole' ? `${doc.metadata?.name}-${namespace}` : (doc.metadata?.name as string);
      await api.create({
        ...doc,
        metadata: { ...doc.metadata, name, namespace: doc.kind === 'Role' ? namespace : undefined },
      });
      const subjects = [{ kind: 'ServiceAccount', name: account, namespace }];
      if (doc.kind === 'ClusterRole') {
        await rbac.createClusterRoleBinding({
          body: {
            metadata: { name },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
            subjects,
          },
        });
        clusterScoped.push({ kind: 'ClusterRole', name });
      } else {
        await rbac.createNamespacedRoleBinding({
          namespace,
          body: {
            metadata: { name },
            roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
            subjects,
          },
        });
      }
    }
  });
  afterAll(async () => {
    await stop?.();
    await removeNamespaces(k);
    for (const { name } of clusterScoped) {
      await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
      await rbac.deleteClusterRole({ name }).catch(() => undefined);
    }
    etcd.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reconciles, patches status, records events, elects itself and removes its finalizer', async () => {
    const kubeconfig = await serviceAccountKubeconfig(k, namespace, account, dir);
    const operator = await startLocalOperator(namespace, {
      KUBECONFIG: kubeconfig,
      LEADER_ELECTION: 'true',
      LEADER_ELECTION_NAMESPACE: namespace,
      LEASE_DURATION: '6s',
    });
    stop = () => operator.stop();
    const target = uniqueName('svc');
    const key = `/maintenance/${target}`;
    await createWindow(k, namespace, 'w', {
      target: { name: target, selector: { matchLabels: { app: target } } },
    });
    await waitFor(async () => (await readSwitch(etcd, key))?.enabled === true, { message: 'key on' });
    const w = await waitFor(
      async () => {
        const obj = await getWindow(k, namespace, 'w');
        return condition(obj.status, CONDITION.Active)?.status === 'True' ? obj : undefined;
      },
      { message: 'status patched' },
    );
    expect(w.metadata.finalizers).toEqual([FINALIZER]);
    await waitFor(
      async () => (await kubectl(['get', 'events', '-n', namespace])).stdout.includes('WindowOpen'),
      {
        message: 'an event recorded by the service account',
      },
    );
    await deleteWindow(k, namespace, 'w');
    await waitFor(() => windowGone(k, namespace, 'w'), { message: 'finalizer removed' });
    expect((await readSwitch(etcd, key))?.enabled).toBe(false);
    // Retries happen (a 409 when the cache is a step behind is normal); a refusal never may.
    const failures = operator.lines.filter((l) => l.includes('failed'));
    if (failures.length > 0) console.log(`retried under RBAC:\n${failures.join('\n')}`);
    expect(failures.filter((l) => /\b403\b|forbidden/i.test(l))).toEqual([]);
  });

  it('is refused what it does not need', async () => {
    // can-i prints yes or no; "no" also exits 1, which kubectl() turns into an error carrying the output.
    const can = async (args: string[]): Promise<string> => {
      const as = `--as=system:serviceaccount:${namespace}:${account}`;
      try {
        return (await kubectl(['auth', 'can-i', ...args, as])).stdout.trim();
      } catch (err) {
        return String(
          ((err as Error).cause as { stdout?: string } | undefined)?.stdout ?? (err as Error).message,
        ).trim();
      }
    };
    expect(await can(['list', 'pods', '-A'])).toBe('yes');
    expect(await can(['patch', 'maintenancewindows.kmaint.io/status', '-n', namespace])).toBe('yes');
    expect(await can(['create', 'leases.coordination.k8s.io', '-n', namespace])).toBe('yes');
    for (const denied of [
      ['delete', 'pods', '-n', namespace],
      ['patch', 'pods', '-n', namespace],
      ['get', 'secrets', '-n', namespace],
      ['create', 'maintenancewindows.kmaint.io', '-n', namespace],
      ['delete', 'maintenancewindows.kmaint.io', '-n', namespace],
      ['create', 'leases.coordination.k8s.io', '-n', 'default'],
    ]) {
      expect(await can(denied), denied.join(' ')).toBe('no');
    }
  });
});
