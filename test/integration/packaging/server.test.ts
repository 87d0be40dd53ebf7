import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import {
  chartDir,
  kubectlBin,
  helmBin,
  parseObjects,
  repoRoot,
  run,
  type K8sObject,
  type RunResult,
} from './tools.ts';

// The chart, the plain manifests and the example windows against the test environment's real
// kube-apiserver: `helm install` (and --dry-run=server) is accepted object by object, the operator's
// ServiceAccount can do exactly what the operator needs (a `kubectl auth can-i` table), and the example
// MaintenanceWindows pass the CRD's schema and CEL rules. There is no kubelet here, so nothing is run:
// what is checked is what the apiserver accepts and authorises.

const namespaces: string[] = [];

function kube(args: string[], input?: string): Promise<RunResult> {
  return run(kubectlBin(), args, { input, env: { KUBECONFIG: inject('kubeconfig') } });
}
async function kubeOk(args: string[], input?: string): Promise<string> {
  const result = await kube(args, input);
  if (result.code !== 0)
    throw new Error(`kubectl ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result.stdout;
}
function helm(args: string[]): Promise<RunResult> {
  const home = join(inject('envDir'), 'helm');
  return run(helmBin(), args, {
    env: {
      KUBECONFIG: inject('kubeconfig'),
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
}
async function helmOk(args: string[]): Promise<string> {
  const result = await helm(args);
  if (result.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${result.code}:\n${result.stderr}`);
  return result.stdout;
}

async function namespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  await kubeOk(['create', 'namespace', name]);
  namespaces.push(name);
  return name;
}

/**
 * The CRD is cluster-wide and other tests apply it with kubectl; a release that renders it adopts the
 * existing one (`--take-ownership`), which its keep policy then leaves in place on uninstall.
 */
const crdArgs = ['--set', 'crds.install=true', '--take-ownership'];

/** Every option that renders something the apiserver can judge (ServiceMonitors need the Prometheus
 *  Operator's CRD, which this cluster does not have). */
const everything = [
  '--set', 'consumer.enabled=true',
  '--set', 'etcd.tls.secretName=etcd-client',
  '--set', 'etcd.auth.secretName=etcd-user',
  '--set', 'etcd.endpoints[0]=https://etcd-0.etcd:2379',
  '--set', 'consumer.sidecars[0].name=proxy',
  '--set', 'consumer.sidecars[0].image=envoyproxy/envoy:v1.36.2',
  '--set', 'consumer.initContainers[0].name=wait',
  '--set', 'consumer.initContainers[0].image=busybox:1.37',
  '--set', 'consumer.preStop.useSleepAction=true',
]; // prettier-ignore

// Other test files apply the shared CRD as well; have it in place whichever runs first, so that
// `kubectl auth can-i` knows the kmaint.io resources in every test here.
beforeAll(async () => {
  await kubeOk([
    'apply',
    '--server-side',
    '--force-conflicts',
    '-f',
    join(repoRoot, 'crds', 'kmaint.io_maintenancewindows.yaml'),
  ]);
  await kubeOk(['wait', '--for=condition=Established', 'crd/maintenancewindows.kmaint.io', '--timeout=60s']);
}, 120_000);

afterAll(async () => {
  if (namespaces.length > 0) await kube(['delete', 'namespace', '--wait=false', ...namespaces]);
});

describe('helm install into the real apiserver', () => {
  let ns = '';
  let release = '';
  let installOutput = '';
  let manifest: K8sObject[] = [];

  beforeAll(async () => {
    ns = await namespace('pkg-install');
    release = uniqueName('km').slice(0, 30);
    installOutput = await helmOk([
      'install',
      release,
      chartDir,
      '--namespace',
      ns,
      ...crdArgs,
      ...everything,
    ]);
    manifest = parseObjects(await helmOk(['get', 'manifest', release, '--namespace', ns]));
  }, 180_000);

  it('is accepted by --dry-run=server with every option on', async () => {
    const dryNs = await namespace('pkg-dry-run');
    const out = await helmOk([
      'install', uniqueName('dry').slice(0, 30), chartDir, '--namespace', dryNs, '--dry-run=server', ...crdArgs, ...everything,
    ]); // prettier-ignore
    const objects = parseObjects(
      out.slice(out.indexOf('MANIFEST:') + 'MANIFEST:'.length, out.indexOf('NOTES:')),
    );
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'Deployment', 'Deployment',
        'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'Service', 'ServiceAccount',
      ].sort(),
    ); // prettier-ignore
  });

  it('deploys, and every object of the release exists in the cluster as rendered', async () => {
    const status = JSON.parse(await helmOk(['status', release, '--namespace', ns, '--output', 'json'])) as {
      info: { status: string };
    };
    expect(status.info.status).toBe('deployed');
    expect(manifest.length).toBe(13);
    for (const object of manifest) {
      const args = [
        'get',
        `${object.kind}.${object.apiVersion.split('/').reverse()[1] ?? ''}`.replace(/\.$/, ''),
        object.metadata.name,
        '-o',
        'json',
      ];
      const live = JSON.parse(
        await kubeOk(object.metadata.namespace ? [...args, '-n', object.metadata.namespace] : args),
      ) as K8sObject;
      expect(live.metadata.labels, `${object.kind}/${object.metadata.name}`).toMatchObject(
        object.metadata.labels ?? {},
      );
    }
    // The apiserver kept what matters for draining: the native sidecar, the grace period, the PDB policy.
    const deployment = JSON.parse(
      await kubeOk(['get', 'deployment', 'kafka-service', '-n', ns, '-o', 'json']),
    ) as K8sObject;
    const pod = deployment.spec.template.spec;
    expect(
      pod.initContainers.map((c: { name: string; restartPolicy?: string }) => [c.name, c.restartPolicy]),
    ).toEqual([
      ['wait', undefined],
      ['proxy', 'Always'],
    ]);
    expect(pod.terminationGracePeriodSeconds).toBe(70);
    expect(pod.containers[0].lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    const pdb = JSON.parse(
      await kubeOk(['get', 'pdb', 'kafka-service', '-n', ns, '-o', 'json']),
    ) as K8sObject;
    expect(pdb.spec.unhealthyPodEvictionPolicy).toBe('AlwaysAllow');
    // The CRD the release owns is the one in crds/, served and established.
    const crd = JSON.parse(
      await kubeOk(['get', 'crd', 'maintenancewindows.kmaint.io', '-o', 'json']),
    ) as K8sObject;
    expect(crd.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Established', status: 'True' }),
    );
  });

  it('prints NOTES that say how to open a window and watch it', () => {
    const notes = installOutput.slice(installOutput.indexOf('NOTES:'));
    expect(notes).toContain(`kubectl -n ${ns} rollout status deployment/${release}-kmaint-operator`);
    expect(notes).toContain('kind: MaintenanceWindow');
    expect(notes).toContain(`kubectl -n ${ns} get maintenancewindows -w`);
    expect(notes).toContain(`kubectl -n ${ns} wait --for=condition=Drained maintenancewindow/try-kmaint`);
    expect(notes).toContain(`port-forward service/${release}-kmaint-operator-metrics 8080`);
    expect(notes).toContain('http://localhost:8080/status');
  });

  it('accepts the window the NOTES suggest', async () => {
    const notes = installOutput.slice(installOutput.indexOf('NOTES:'));
    const start = notes.indexOf('apiVersion: kmaint.io/v1alpha1');
    const window = notes.slice(start, notes.indexOf('YAML\n', start)).replace(/^ {5}/gm, '');
    await kubeOk(['apply', '--dry-run=server', '-f', '-'], window);
  });

  it('gives the operator exactly the permissions it needs (kubectl auth can-i)', async () => {
    const sa = `system:serviceaccount:${ns}:${release}-kmaint-operator`;
    const other = await namespace('pkg-other');
    const rows = (verbs: string[], resource: string, where: string, allowed: boolean) =>
      verbs.map((verb) => ({ verb, resource, where, allowed }));
    const table = [
      ...rows(['get', 'list', 'watch', 'update', 'patch'], 'maintenancewindows.kmaint.io', other, true),
      ...rows(['get', 'update', 'patch'], 'maintenancewindows.kmaint.io/status', other, true),
      ...rows(['update'], 'maintenancewindows.kmaint.io/finalizers', other, true),
      ...rows(['get', 'list', 'watch'], 'pods', other, true),
      ...rows(['create', 'patch'], 'events', other, true),
      ...rows(['create', 'patch'], 'events.events.k8s.io', other, true),
      ...rows(['get', 'list', 'watch', 'create', 'update', 'patch'], 'leases.coordination.k8s.io', ns, true),
      // ... and nothing else.
      ...rows(['create', 'delete', 'deletecollection'], 'maintenancewindows.kmaint.io', other, false),
      ...rows(['create', 'delete', 'update'], 'pods', other, false),
      ...rows(['create'], 'pods/eviction', other, false),
      ...rows(['get'], 'secrets', ns, false),
      ...rows(['list'], 'configmaps', other, false),
      ...rows(['delete'], 'events', other, false),
      ...rows(['get', 'create'], 'leases.coordination.k8s.io', other, false),
      ...rows(['delete'], 'leases.coordination.k8s.io', ns, false),
      ...rows(['patch'], 'deployments.apps', ns, false),
      ...rows(['get'], 'nodes', '', false),
      ...rows(['update'], 'customresourcedefinitions.apiextensions.k8s.io', '', false),
      ...rows(['escalate'], 'clusterroles.rbac.authorization.k8s.io', '', false),
    ];
    const seen = await Promise.all(
      table.map(async ({ verb, resource, where }) => {
        const result = await kube([
          'auth',
          'can-i',
          verb,
          resource,
          '--as',
          sa,
          ...(where ? ['-n', where] : []),
        ]);
        const namespace = where === ns ? '<release ns>' : where ? '<other ns>' : '(cluster)';
        return { verb, resource, namespace, allowed: result.stdout.trim() };
      }),
    );
    console.table(seen);
    expect(seen.map((s) => s.allowed)).toEqual(table.map((row) => (row.allowed ? 'yes' : 'no')));
  });

  it('lists no permission beyond the agreed ones (kubectl auth can-i --list)', async () => {
    const sa = `system:serviceaccount:${ns}:${release}-kmaint-operator`;
    const other = await namespace('pkg-list');
    const granted = async (where: string) =>
      parseCanIList(await kubeOk(['auth', 'can-i', '--list', '--as', sa, '-n', where])).filter(
        // Every authenticated identity may review itself and read discovery; that is not the chart's doing.
        (r) =>
          !r.resource.endsWith('.authorization.k8s.io') &&
          !r.resource.endsWith('.authentication.k8s.io') &&
          r.resource !== '',
      );
    const shared = [
      'events [create patch]',
      'events.events.k8s.io [create patch]',
      'maintenancewindows.kmaint.io [get list watch update patch]',
      'maintenancewindows.kmaint.io/finalizers [update]',
      'maintenancewindows.kmaint.io/status [get update patch]',
      'pods [get list watch]',
      'scaledobjects.keda.sh [get list patch]',
    ];
    expect((await granted(other)).map((r) => `${r.resource} [${r.verbs.join(' ')}]`).sort()).toEqual(shared);
    expect((await granted(ns)).map((r) => `${r.resource} [${r.verbs.join(' ')}]`).sort()).toEqual(
      [...shared, 'leases.coordination.k8s.io [get list watch create update patch]'].sort(),
    );
  });

  it('can be upgraded in place and uninstalled, keeping the CRD', async () => {
    await helmOk([
      'upgrade',
      release,
      chartDir,
      '--namespace',
      ns,
      '--reuse-values',
      '--set',
      'consumer.replicaCount=2',
    ]);
    const deployment = JSON.parse(
      await kubeOk(['get', 'deployment', 'kafka-service', '-n', ns, '-o', 'json']),
    ) as K8sObject;
    expect(deployment.spec.replicas).toBe(2);
    await helmOk(['uninstall', release, '--namespace', ns]);
    await kubeOk(['get', 'crd', 'maintenancewindows.kmaint.io']);
    const left = await kube(['get', 'deployment', 'kafka-service', '-n', ns]);
    expect(left.code).not.toBe(0);
  });
});

describe('Pod Security', () => {
  it('the operator and consumer pods are admitted under the restricted standard', async () => {
    const ns = await namespace('pkg-restricted');
    await kubeOk([
      'label',
      'namespace',
      ns,
      'pod-security.kubernetes.io/enforce=restricted',
      'pod-security.kubernetes.io/warn=restricted',
    ]);
    const release = uniqueName('psa').slice(0, 30);
    const result = await helm([
      'install',
      release,
      chartDir,
      '--namespace',
      ns,
      '--set',
      'crds.install=false',
      '--set',
      'consumer.enabled=true',
    ]);
    expect(result.stderr).not.toContain('PodSecurity');
    expect(result.code).toBe(0);
    // The ReplicaSets create the pods through PodSecurity admission (no node runs them here).
    const pods = await waitFor(
      async () => {
        const list = JSON.parse(await kubeOk(['get', 'pods', '-n', ns, '-o', 'json'])) as {
          items: K8sObject[];
        };
        return list.items.length === 4 ? list.items : undefined;
      },
      { timeoutMs: 60_000, message: '1 operator and 3 consumer pods' },
    );
    expect(pods.map((p) => p.metadata.labels?.['app.kubernetes.io/component']).sort()).toEqual([
      'consumer',
      'consumer',
      'consumer',
      'operator',
    ]);
    const events = await kubeOk([
      'get',
      'events',
      '-n',
      ns,
      '--field-selector',
      'reason=FailedCreate',
      '-o',
      'name',
    ]);
    expect(events.trim()).toBe('');
  });
});

describe('the packaged chart (helm package), installed', () => {
  let ns = '';
  let release = '';
  let dir = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kmaint-package-'));
    const archive =
      (await helmOk(['package', chartDir, '--destination', dir])).trim().split(/\s+/).pop() ?? '';
    ns = await namespace('pkg-archive');
    release = uniqueName('arc').slice(0, 30);
    await helmOk(['install', release, archive, '--namespace', ns, ...crdArgs]);
  }, 180_000);

  afterAll(async () => {
    if (release !== '') await helm(['uninstall', release, '--namespace', ns]);
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('is deployed, with the CRD of crds/', async () => {
    const status = JSON.parse(await helmOk(['status', release, '--namespace', ns, '--output', 'json'])) as {
      info: { status: string };
    };
    expect(status.info.status).toBe('deployed');
    const crd = JSON.parse(
      await kubeOk(['get', 'crd', 'maintenancewindows.kmaint.io', '-o', 'json']),
    ) as K8sObject;
    const source = parseObjects(
      readFileSync(join(repoRoot, 'crds', 'kmaint.io_maintenancewindows.yaml'), 'utf8'),
    )[0];
    expect(crd.spec.versions.map((v: { name: string }) => v.name)).toEqual(
      source?.spec.versions.map((v: { name: string }) => v.name),
    );
  });

  it("lets a namespace's editors open windows there and its viewers read them (kubectl auth can-i)", async () => {
    const team = await namespace('pkg-team');
    const elsewhere = await namespace('pkg-elsewhere');
    const editor = uniqueName('editor');
    const viewer = uniqueName('viewer');
    await kubeOk(['create', 'rolebinding', 'editor', '--clusterrole=edit', `--user=${editor}`, '-n', team]);
    await kubeOk(['create', 'rolebinding', 'viewer', '--clusterrole=view', `--user=${viewer}`, '-n', team]);
    // `kubectl auth can-i` takes a subresource as a flag (TYPE/NAME would name an object).
    const can = async (user: string, verb: string, resource: string, where: string) => {
      const [type = '', sub] = resource.split('/');
      const args = [
        'auth',
        'can-i',
        verb,
        type,
        ...(sub ? ['--subresource', sub] : []),
        '--as',
        user,
        '-n',
        where,
      ];
      return (await kube(args)).stdout.trim();
    };
    // The clusterrole-aggregation controller folds the chart's roles into edit/view asynchronously.
    await waitFor(async () => (await can(editor, 'create', 'maintenancewindows.kmaint.io', team)) === 'yes', {
      message: 'edit aggregated the window rules',
      timeoutMs: 60_000,
    });
    const windows = 'maintenancewindows.kmaint.io';
    const table = [
      [editor, 'create', windows, team, 'yes'],
      [editor, 'patch', windows, team, 'yes'],
      [editor, 'delete', windows, team, 'yes'],
      [editor, 'get', `${windows}/status`, team, 'yes'],
      [editor, 'update', `${windows}/status`, team, 'no'],
      [editor, 'update', `${windows}/finalizers`, team, 'no'],
      [editor, 'create', windows, elsewhere, 'no'],
      [viewer, 'list', windows, team, 'yes'],
      [viewer, 'watch', windows, team, 'yes'],
      [viewer, 'create', windows, team, 'no'],
      [viewer, 'delete', windows, team, 'no'],
      [viewer, 'list', windows, elsewhere, 'no'],
    ] as const;
    const seen = await Promise.all(
      table.map(async ([user, verb, resource, where]) => ({
        who: user === editor ? 'editor' : 'viewer',
        verb,
        resource,
        namespace: where === team ? '<own>' : '<other>',
        allowed: await can(user, verb, resource, where),
      })),
    );
    console.table(seen);
    expect(seen.map((s) => s.allowed)).toEqual(table.map((row) => row[4]));
  });
});

describe('helm install with watchNamespace', () => {
  it('grants the window and pod permissions in the watched namespace only', async () => {
    const ns = await namespace('pkg-scoped');
    const watched = await namespace('pkg-watched');
    const other = await namespace('pkg-unwatched');
    const release = uniqueName('scoped').slice(0, 30);
    const installed = await helmOk([
      'install',
      release,
      chartDir,
      '--namespace',
      ns,
      '--set',
      'crds.install=false',
      '--set',
      `operator.watchNamespace=${watched}`,
    ]);
    // The notes send the user's window to the namespace the operator watches.
    expect(installed).toContain(
      `kubectl -n ${watched} wait --for=condition=Drained maintenancewindow/try-kmaint`,
    );
    const sa = `system:serviceaccount:${ns}:${release}-kmaint-operator`;
    const can = async (verb: string, resource: string, where: string) =>
      (await kube(['auth', 'can-i', verb, resource, '--as', sa, '-n', where])).stdout.trim();
    const seen = {
      'list windows, watched': await can('list', 'maintenancewindows.kmaint.io', watched),
      'list windows, other': await can('list', 'maintenancewindows.kmaint.io', other),
      'watch pods, watched': await can('watch', 'pods', watched),
      'watch pods, other': await can('watch', 'pods', other),
      'update lease, own': await can('update', 'leases.coordination.k8s.io', ns),
      'update lease, watched': await can('update', 'leases.coordination.k8s.io', watched),
    };
    expect(seen).toEqual({
      'list windows, watched': 'yes',
      'list windows, other': 'no',
      'watch pods, watched': 'yes',
      'watch pods, other': 'no',
      'update lease, own': 'yes',
      'update lease, watched': 'no',
    });
    await helmOk(['uninstall', release, '--namespace', ns]);
  });
});

describe('deploy/ against the apiserver', () => {
  it.each(['window-immediate.yaml', 'window-scheduled.yaml', 'window-recurring.yaml'])(
    'accepts deploy/examples/%s as written',
    async (file) => {
      const ns = await namespace('pkg-example');
      const path = join(repoRoot, 'deploy', 'examples', file);
      const [source] = parseObjects(readFileSync(path, 'utf8'));
      await kubeOk(['apply', '-n', ns, '-f', path]);
      const live = JSON.parse(
        await kubeOk(['get', 'maintenancewindow', source?.metadata.name ?? '', '-n', ns, '-o', 'json']),
      ) as K8sObject;
      // Nothing was pruned or changed; the server only adds defaults (suspend: false).
      expect(live.spec).toMatchObject(source?.spec ?? {});
    },
  );

  it('refuses a broken window, so the examples were really checked', async () => {
    const ns = await namespace('pkg-example');
    const [window] = parseObjects(
      readFileSync(join(repoRoot, 'deploy', 'examples', 'window-recurring.yaml'), 'utf8'),
    );
    const broken = JSON.stringify({
      ...window,
      spec: { ...window?.spec, schedule: { cron: '0 2 * * SUN' } },
    });
    const result = await kube(['apply', '-n', ns, '-f', '-'], broken);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('cron and duration go together');
  });

  it.each(['manifests/kmaint.yaml', 'manifests/example-consumer.yaml', 'kind/backing-services.yaml'])(
    'accepts deploy/%s (server-side dry run)',
    async (file) => {
      const ns = await namespace('pkg-manifests');
      // The plain manifests name namespace kmaint; point them at this test's namespace instead.
      const text = readFileSync(join(repoRoot, 'deploy', file), 'utf8').replaceAll(
        'namespace: kmaint\n',
        `namespace: ${ns}\n`,
      );
      const objects = parseObjects(text).filter((o) => o.kind !== 'Namespace');
      const yaml = objects.map((o) => JSON.stringify(o)).join('\n---\n');
      const out = await kubeOk(
        ['apply', '--server-side', '--force-conflicts', '--dry-run=server', '-n', ns, '-f', '-'],
        yaml,
      );
      expect(out.trim().split('\n')).toHaveLength(objects.length);
    },
  );
});

interface CanIRow {
  resource: string;
  verbs: string[];
}

/** Reads the table of `kubectl auth can-i --list` (Resources, Non-Resource URLs, Resource Names, Verbs). */
function parseCanIList(text: string): CanIRow[] {
  const [header = '', ...lines] = text.trimEnd().split('\n');
  const verbsAt = header.indexOf('Verbs');
  const urlsAt = header.indexOf('Non-Resource URLs');
  return lines
    .map((line) => ({
      resource: line.slice(0, urlsAt).trim(),
      verbs: line
        .slice(verbsAt)
        .trim()
        .replace(/^\[|\]$/g, '')
        .split(/\s+/)
        .filter(Boolean),
    }))
    .filter((r) => r.resource !== '');
}
