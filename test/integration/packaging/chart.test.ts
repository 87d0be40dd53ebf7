import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import {
  chartDir,
  findObject,
  helmBin,
  helmTemplate,
  kubeVersion,
  parseObjects,
  render,
  repoRoot,
  run,
  runOk,
  type K8sObject,
} from './tools.ts';

// Offline checks of charts/kmaint: every option of values.yaml renders what it promises, and bad values
// are refused. The objects are accepted by a real apiserver in install.test.ts.

const consumerOn = { consumer: { enabled: true } };

function container(deployment: K8sObject, name: string) {
  const found = deployment.spec.template.spec.containers.find((c: { name: string }) => c.name === name);
  if (!found) throw new Error(`no container ${name} in ${deployment.metadata.name}`);
  return found;
}

/** The ClusterRoles that let people use windows (aggregated into view/edit/admin), not the operator's. */
const forPeople = (o: K8sObject): boolean =>
  o.kind === 'ClusterRole' && /-windows-(view|edit)$/.test(o.metadata.name);

function envOf(c: { env: { name: string; value?: string; valueFrom?: unknown }[] }): Map<string, unknown> {
  return new Map(c.env.map((e) => [e.name, e.value ?? e.valueFrom]));
}

describe('helm lint', () => {
  it.each([
    ['defaults', []],
    [
      'with the example consumer and every option on',
      [
        '--set',
        'consumer.enabled=true',
        '--set',
        'operator.metrics.serviceMonitor.enabled=true',
        '--set',
        'consumer.serviceMonitor.enabled=true',
      ],
    ],
  ])('is clean with %s (--strict)', async (_label, args) => {
    const result = await run(helmBin(), [
      'lint',
      '--strict',
      chartDir,
      '--kube-version',
      kubeVersion,
      ...args,
    ]);
    expect(result.stdout + result.stderr).not.toMatch(/\[(WARNING|ERROR)\]/);
    expect(result.code).toBe(0);
  });
});

describe('the CRD', () => {
  const crdFiles = readdirSync(join(repoRoot, 'crds')).filter((f) => f.endsWith('.yaml'));

  it('is rendered from crds/ and equals it, plus labels and the keep policy', async () => {
    expect(crdFiles).toContain('kmaint.io_maintenancewindows.yaml');
    const crds = (await render()).filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds).toHaveLength(crdFiles.length);
    for (const file of crdFiles) {
      const source = parse(readFileSync(join(repoRoot, 'crds', file), 'utf8')) as K8sObject;
      const rendered = findObject(crds, 'CustomResourceDefinition', source.metadata.name);
      expect(rendered.spec).toEqual(source.spec);
      expect(rendered.metadata.labels).toMatchObject(source.metadata.labels ?? {});
      expect(rendered.metadata.labels?.['app.kubernetes.io/part-of']).toBe('kmaint');
      expect(rendered.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    }
  });

  it('is left out with crds.install=false and deletable with crds.keep=false', async () => {
    expect(
      (await render({ crds: { install: false } })).some((o) => o.kind === 'CustomResourceDefinition'),
    ).toBe(false);
    const crd = findObject(await render({ crds: { keep: false } }), 'CustomResourceDefinition');
    expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
  });

  it('travels inside `helm package`, equal to crds/, and renders from the archive as from the folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-package-'));
    try {
      const out = await runOk(helmBin(), ['package', chartDir, '--destination', dir]);
      const archive = out.trim().split(/\s+/).pop() ?? '';
      expect(archive).toMatch(/kmaint-0\.1\.0\.tgz$/);
      const listing = await runOk('tar', ['-tzf', archive]);
      expect(listing.split('\n')).toContain('kmaint/files/crds/kmaint.io_maintenancewindows.yaml');
      expect(listing.split('\n')).toContain('kmaint/files/operator-rbac/role.yaml');
      const packed = await runOk('tar', [
        '-xzOf',
        archive,
        'kmaint/files/crds/kmaint.io_maintenancewindows.yaml',
      ]);
      expect(packed).toBe(readFileSync(join(repoRoot, 'crds', 'kmaint.io_maintenancewindows.yaml'), 'utf8'));
      // The packaged chart renders the same CRD as the source folder.
      const fromArchive = await runOk(helmBin(), [
        'template',
        'kmaint',
        archive,
        '--kube-version',
        kubeVersion,
      ]);
      const crd = findObject(parseObjects(fromArchive), 'CustomResourceDefinition');
      expect(crd.spec).toEqual(findObject(await render(), 'CustomResourceDefinition').spec);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the operator', () => {
  it('renders a hardened Deployment with the agreed environment and probes', async () => {
    const objects = await render();
    const deployment = findObject(objects, 'Deployment', 'kmaint-operator');
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('kmaint-operator');
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    const c = container(deployment, 'operator');
    expect(c.image).toBe('kmaint/operator:0.1.0');
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.ports).toEqual([{ name: 'http-metrics', containerPort: 8080, protocol: 'TCP' }]);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'http-metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http-metrics' });
    const env = envOf(c);
    expect(Object.fromEntries([...env].filter(([, v]) => typeof v === 'string'))).toEqual({
      HTTP_PORT: '8080',
      LOG_LEVEL: 'info',
      WATCH_NAMESPACE: '',
      RESYNC_PERIOD: '5m',
      RECONCILE_WORKERS: '32',
      NODE_OPTIONS: '--max-old-space-size=128 --max-semi-space-size=2',
      MALLOC_ARENA_MAX: '2',
      LEADER_ELECTION: 'true',
      LEADER_ELECTION_NAMESPACE: 'kmaint-system',
      LEADER_ELECTION_LEASE_NAME: 'kmaint-operator',
      LEASE_DURATION: '15s',
      ETCD_ENDPOINTS: 'http://etcd:2379',
    });
    expect(env.get('POD_NAME')).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(env.get('POD_NAMESPACE')).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    const service = findObject(objects, 'Service', 'kmaint-operator-metrics');
    expect(service.spec.ports).toEqual([
      { name: 'http-metrics', port: 8080, targetPort: 'http-metrics', protocol: 'TCP' },
    ]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
  });

  it('gets exactly the agreed permissions, cluster-wide, and its Lease only in its namespace', async () => {
    const objects = await render();
    const clusterRole = findObject(objects, 'ClusterRole', 'kmaint-operator');
    expect(clusterRole.rules).toEqual([
      {
        apiGroups: ['kmaint.io'],
        resources: ['maintenancewindows'],
        verbs: ['get', 'list', 'watch', 'update', 'patch'],
      },
      {
        apiGroups: ['kmaint.io'],
        resources: ['maintenancewindows/status'],
        verbs: ['get', 'update', 'patch'],
      },
      { apiGroups: ['kmaint.io'], resources: ['maintenancewindows/finalizers'], verbs: ['update'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
      { apiGroups: ['keda.sh'], resources: ['scaledobjects'], verbs: ['get', 'list', 'patch'] },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    const binding = findObject(objects, 'ClusterRoleBinding', 'kmaint-operator');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'kmaint-operator', namespace: 'kmaint-system' },
    ]);
    const lease = findObject(objects, 'Role', 'kmaint-operator-leader-election');
    expect(lease.metadata.namespace).toBe('kmaint-system');
    expect(lease.rules).toEqual([
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'],
      },
    ]);
    expect(findObject(objects, 'RoleBinding', 'kmaint-operator-leader-election').roleRef.name).toBe(
      'kmaint-operator-leader-election',
    );
  });

  it("takes its rules from operator/rbac/role.yaml, the operator's own statement of what it uses", async () => {
    const source = parseObjects(readFileSync(join(repoRoot, 'operator', 'rbac', 'role.yaml'), 'utf8'));
    const objects = await render();
    expect(findObject(objects, 'ClusterRole').rules).toEqual(findObject(source, 'ClusterRole').rules);
    expect(findObject(objects, 'Role').rules).toEqual(findObject(source, 'Role').rules);
  });

  it('narrows to a Role in watchNamespace, and drops the Lease role without leader election', async () => {
    const objects = await render({
      operator: { watchNamespace: 'payments', leaderElection: { enabled: false } },
    });
    expect(
      objects.some((o) => !forPeople(o) && (o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding')),
    ).toBe(false);
    const roles = objects.filter((o) => o.kind === 'Role');
    expect(roles.map((r) => `${r.metadata.namespace}/${r.metadata.name}`)).toEqual([
      'payments/kmaint-operator',
    ]);
    expect(findObject(objects, 'RoleBinding').metadata.namespace).toBe('payments');
    const env = envOf(container(findObject(objects, 'Deployment'), 'operator'));
    expect(env.get('WATCH_NAMESPACE')).toBe('payments');
    expect(env.get('LEADER_ELECTION')).toBe('false');
  });

  it("leaves glibc's malloc arenas to glibc with mallocArenaMax null, and refuses 0", async () => {
    const deployment = findObject(await render({ operator: { mallocArenaMax: null } }), 'Deployment');
    expect(envOf(container(deployment, 'operator')).has('MALLOC_ARENA_MAX')).toBe(false);
    const result = await helmTemplate({ operator: { mallocArenaMax: 0 } });
    expect(result.ok ? '' : result.error).toContain('mallocArenaMax');
  });

  it('refuses several replicas without leader election', async () => {
    const result = await helmTemplate({ operator: { replicaCount: 2, leaderElection: { enabled: false } } });
    expect(result.ok ? '' : result.error).toContain(
      'operator.replicaCount > 1 needs operator.leaderElection.enabled',
    );
    expect(findObject(await render({ operator: { replicaCount: 2 } }), 'Deployment').spec.replicas).toBe(2);
  });

  it('uses an existing ServiceAccount and creates no RBAC when told so', async () => {
    const objects = await render({
      operator: { serviceAccount: { create: false, name: 'ops' }, rbac: { create: false } },
    });
    expect(
      objects.filter(
        (o) =>
          !forPeople(o) &&
          ['ServiceAccount', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(o.kind),
      ),
    ).toEqual([]);
    expect(findObject(objects, 'Deployment').spec.template.spec.serviceAccountName).toBe('ops');
  });

  it('renders an optional ServiceMonitor on the metrics Service', async () => {
    expect((await render()).some((o) => o.kind === 'ServiceMonitor')).toBe(false);
    const objects = await render({
      operator: { metrics: { serviceMonitor: { enabled: true, labels: { release: 'prom' } } } },
    });
    const monitor = findObject(objects, 'ServiceMonitor', 'kmaint-operator');
    expect(monitor.metadata.labels?.['release']).toBe('prom');
    expect(monitor.spec.endpoints).toEqual([
      { port: 'http-metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s' },
    ]);
    expect(monitor.spec.selector.matchLabels).toEqual(findObject(objects, 'Service').spec.selector);
    const refused = await helmTemplate({
      operator: { metrics: { service: { enabled: false }, serviceMonitor: { enabled: true } } },
    });
    expect(refused.ok ? '' : refused.error).toContain('needs operator.metrics.service.enabled');
  });
});

describe('etcd connection settings', () => {
  it('mount the TLS Secret and point the ETCD_*_FILE variables into it, for both workloads', async () => {
    const objects = await render({
      ...consumerOn,
      etcd: {
        endpoints: ['https://etcd-0.etcd:2379', 'https://etcd-1.etcd:2379'],
        tls: { secretName: 'etcd-client' },
      },
    });
    for (const [deployment, name] of [
      [findObject(objects, 'Deployment', 'kmaint-operator'), 'operator'],
      [findObject(objects, 'Deployment', 'kafka-service'), 'consumer'],
    ] as const) {
      const c = container(deployment, name);
      const env = envOf(c);
      expect(env.get('ETCD_ENDPOINTS')).toBe('https://etcd-0.etcd:2379,https://etcd-1.etcd:2379');
      expect(env.get('ETCD_CA_FILE')).toBe('/etc/kmaint/etcd-tls/ca.crt');
      expect(env.get('ETCD_CERT_FILE')).toBe('/etc/kmaint/etcd-tls/tls.crt');
      expect(env.get('ETCD_KEY_FILE')).toBe('/etc/kmaint/etcd-tls/tls.key');
      expect(c.volumeMounts).toEqual([
        { name: 'etcd-tls', mountPath: '/etc/kmaint/etcd-tls', readOnly: true },
      ]);
      expect(deployment.spec.template.spec.volumes).toEqual([
        { name: 'etcd-tls', secret: { secretName: 'etcd-client', defaultMode: 0o440 } },
      ]);
    }
  });

  it('with server-only TLS set the CA alone; with auth read user and password from the Secret', async () => {
    const objects = await render({
      etcd: { tls: { secretName: 'etcd-ca', certKey: '' }, auth: { secretName: 'etcd-user' } },
    });
    const env = envOf(container(findObject(objects, 'Deployment'), 'operator'));
    expect(env.get('ETCD_CA_FILE')).toBe('/etc/kmaint/etcd-tls/ca.crt');
    expect(env.has('ETCD_CERT_FILE')).toBe(false);
    expect(env.has('ETCD_KEY_FILE')).toBe(false);
    expect(env.get('ETCD_USERNAME')).toEqual({ secretKeyRef: { name: 'etcd-user', key: 'username' } });
    expect(env.get('ETCD_PASSWORD')).toEqual({ secretKeyRef: { name: 'etcd-user', key: 'password' } });
  });

  it('without TLS mount nothing', async () => {
    const c = container(findObject(await render(), 'Deployment'), 'operator');
    expect(c.volumeMounts).toBeUndefined();
    expect([...envOf(c).keys()].filter((k) => k.startsWith('ETCD_'))).toEqual(['ETCD_ENDPOINTS']);
  });
});

describe('the example consumer', () => {
  it('is off by default', async () => {
    const objects = await render();
    expect(objects.filter((o) => o.metadata.labels?.['app.kubernetes.io/component'] === 'consumer')).toEqual(
      [],
    );
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRole',
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'Deployment',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
  });

  it('runs the service with the GoMaint variables, downward API identity, probes and a preStop sleep', async () => {
    const objects = await render(consumerOn);
    const deployment = findObject(objects, 'Deployment', 'kafka-service');
    const pod = deployment.spec.template.spec;
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.template.metadata.labels).toMatchObject({ app: 'kafka-service' });
    const c = container(deployment, 'consumer');
    expect(c.image).toBe('kmaint/service:0.1.0');
    expect(c.ports).toEqual([{ name: 'http', containerPort: 8083, protocol: 'TCP' }]);
    const env = envOf(c);
    expect(Object.fromEntries([...env].filter(([, v]) => typeof v === 'string'))).toEqual({
      HTTP_PORT: '8083',
      KAFKA_BROKERS: 'kafka:29092',
      KAFKA_TOPICS: 'test-topic,user-events,system-logs',
      KAFKA_CONSUMER_GROUP: 'gomaint-consumer-group',
      KAFKA_CLIENT_ID: 'kmaint-service',
      KAFKA_OFFSET_INITIAL: 'oldest',
      KAFKA_CLIENT: 'kafkajs',
      KAFKA_GROUP_PROTOCOL: 'classic',
      MAX_WORKERS: '5',
      DRAIN_TIMEOUT: '45s',
      SHUTDOWN_GRACE_PERIOD: '55s',
      MAINTENANCE_KEY: '/maintenance/kafka-service',
      LOG_LEVEL: 'info',
      MESSAGES_SEND: 'disabled',
      ETCD_ENDPOINTS: 'http://etcd:2379',
    });
    expect(env.get('POD_NAME')).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(env.get('POD_NAMESPACE')).toEqual({ fieldRef: { fieldPath: 'metadata.namespace' } });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/livez', port: 'http' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/livez', port: 'http' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(c.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    // preStop 5 s + shutdown grace (drain 45 s + 10 s) + margin 10 s.
    expect(pod.terminationGracePeriodSeconds).toBe(70);
    expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.initContainers).toBeUndefined();
  });

  it('opens the produce endpoint only with a bearer token from a Secret, or when asked to', async () => {
    const pod = async (messagesSend: Record<string, unknown>) => {
      const deployment = findObject(
        await render({ consumer: { enabled: true, messagesSend } }),
        'Deployment',
        'kafka-service',
      );
      const c = container(deployment, 'consumer');
      return {
        env: envOf(c),
        mounts: c.volumeMounts ?? [],
        volumes: deployment.spec.template.spec.volumes ?? [],
      };
    };
    // By default the Secret is a mounted file: no token in the environment, and a rotation reaches it.
    const file = await pod({ mode: 'token', tokenSecret: { name: 'send-token', key: 'bearer' } });
    expect(file.env.get('MESSAGES_SEND')).toBe('token');
    expect(file.env.get('MESSAGES_SEND_TOKEN_FILE')).toBe('/etc/kmaint/send-token/token');
    expect(file.env.has('MESSAGES_SEND_TOKEN')).toBe(false);
    // The folder, never a subPath: the kubelet does not update subPath mounts of a Secret.
    expect(file.mounts).toContainEqual({
      name: 'send-token',
      mountPath: '/etc/kmaint/send-token',
      readOnly: true,
    });
    expect(file.volumes).toContainEqual({
      name: 'send-token',
      secret: { secretName: 'send-token', items: [{ key: 'bearer', path: 'token' }], defaultMode: 0o440 },
    });
    const env = await pod({ mode: 'token', tokenSecret: { name: 'send-token', key: 'token', as: 'env' } });
    expect(env.env.get('MESSAGES_SEND_TOKEN')).toEqual({
      secretKeyRef: { name: 'send-token', key: 'token' },
    });
    expect(env.env.has('MESSAGES_SEND_TOKEN_FILE')).toBe(false);
    expect(env.volumes).not.toContainEqual(expect.objectContaining({ name: 'send-token' }));
    const open = await pod({ mode: 'enabled', tokenSecret: { name: 'send-token', key: 'token' } });
    expect(open.env.get('MESSAGES_SEND')).toBe('enabled');
    expect(open.env.has('MESSAGES_SEND_TOKEN')).toBe(false);
    expect(open.env.has('MESSAGES_SEND_TOKEN_FILE')).toBe(false);
    expect(open.mounts).not.toContainEqual(expect.objectContaining({ name: 'send-token' }));
  });

  it('chooses the Kafka client and group protocol, and static membership from the pod name', async () => {
    const objects = await render({
      consumer: {
        enabled: true,
        kafka: { client: 'platformatic', groupProtocol: 'classic', staticMembership: true },
      },
    });
    const env = envOf(container(findObject(objects, 'Deployment', 'kafka-service'), 'consumer'));
    expect(env.get('KAFKA_CLIENT')).toBe('platformatic');
    expect(env.get('KAFKA_GROUP_PROTOCOL')).toBe('classic');
    expect(env.get('KAFKA_STATIC_MEMBERSHIP')).toBe('true');
    // The service derives group.instance.id from POD_NAME, which the downward API sets.
    expect(env.get('POD_NAME')).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    await expect(render({ consumer: { enabled: true, kafka: { client: 'rdkafka' } } })).rejects.toThrow(
      /client/,
    );
  });

  it('speaks TLS and SASL to Kafka with files and credentials from Secrets', async () => {
    const objects = await render({
      consumer: {
        enabled: true,
        kafka: {
          tls: { enabled: true, secretName: 'kafka-tls', certKey: 'tls.crt', keyKey: 'tls.key' },
          sasl: { mechanism: 'scram-sha-512', secretName: 'kafka-user' },
        },
      },
    });
    const deployment = findObject(objects, 'Deployment', 'kafka-service');
    const c = container(deployment, 'consumer');
    const env = envOf(c);
    expect(env.get('KAFKA_TLS')).toBe('true');
    expect(env.get('KAFKA_CA_FILE')).toBe('/etc/kmaint/kafka-tls/ca.crt');
    expect(env.get('KAFKA_CERT_FILE')).toBe('/etc/kmaint/kafka-tls/tls.crt');
    expect(env.get('KAFKA_KEY_FILE')).toBe('/etc/kmaint/kafka-tls/tls.key');
    expect(env.get('KAFKA_SASL_MECHANISM')).toBe('scram-sha-512');
    expect(env.get('KAFKA_SASL_USERNAME')).toEqual({ secretKeyRef: { name: 'kafka-user', key: 'username' } });
    expect(env.get('KAFKA_SASL_PASSWORD')).toEqual({ secretKeyRef: { name: 'kafka-user', key: 'password' } });
    expect(c.volumeMounts).toEqual([
      { name: 'kafka-tls', mountPath: '/etc/kmaint/kafka-tls', readOnly: true },
    ]);
    expect(deployment.spec.template.spec.volumes).toEqual([
      { name: 'kafka-tls', secret: { secretName: 'kafka-tls', defaultMode: 0o440 } },
    ]);
    const plain = envOf(
      container(findObject(await render(consumerOn), 'Deployment', 'kafka-service'), 'consumer'),
    );
    expect([...plain.keys()].filter((k) => /^KAFKA_(TLS|CA|CERT|KEY|SASL)/.test(k))).toEqual([]);
  });

  it('derives the grace period from the drain and refuses one that does not cover it', async () => {
    const grace = async (consumer: Record<string, unknown>) =>
      findObject(await render({ consumer: { enabled: true, ...consumer } }), 'Deployment', 'kafka-service')
        .spec.template.spec.terminationGracePeriodSeconds;
    expect(await grace({ drainTimeoutSeconds: 120 })).toBe(5 + 130 + 10);
    expect(
      await grace({ drainTimeoutSeconds: 30, shutdownGracePeriodSeconds: 40, preStop: { sleepSeconds: 0 } }),
    ).toBe(50);
    expect(await grace({ terminationGracePeriodSeconds: 61 })).toBe(61);
    const tooShort = await helmTemplate({ consumer: { enabled: true, terminationGracePeriodSeconds: 60 } });
    expect(tooShort.ok ? '' : tooShort.error).toContain(
      'consumer.terminationGracePeriodSeconds (60) must exceed consumer.preStop.sleepSeconds + the shutdown grace period (60)',
    );
    const cutShort = await helmTemplate({ consumer: { enabled: true, shutdownGracePeriodSeconds: 20 } });
    expect(cutShort.ok ? '' : cutShort.error).toContain(
      'consumer.shutdownGracePeriodSeconds (20) must be at least',
    );
  });

  it('offers the preStop as an exec sleep, or none', async () => {
    const exec = container(
      findObject(
        await render({ consumer: { enabled: true, preStop: { sleepSeconds: 8, useSleepAction: false } } }),
        'Deployment',
        'kafka-service',
      ),
      'consumer',
    );
    expect(exec.lifecycle).toEqual({ preStop: { exec: { command: ['sleep', '8'] } } });
    const none = container(
      findObject(
        await render({ consumer: { enabled: true, preStop: { sleepSeconds: 0 } } }),
        'Deployment',
        'kafka-service',
      ),
      'consumer',
    );
    expect(none.lifecycle).toBeUndefined();
  });

  it('runs sidecars as native sidecars (restartPolicy: Always) after the plain init containers', async () => {
    const objects = await render({
      consumer: {
        enabled: true,
        initContainers: [{ name: 'wait-for-kafka', image: 'busybox:1.37', command: ['true'] }],
        sidecars: [
          { name: 'proxy', image: 'envoyproxy/envoy:v1.36.2' },
          // A sidecar that asks for another policy would be killed with the pod's main container; it
          // is made a native sidecar regardless.
          { name: 'agent', image: 'otel/opentelemetry-collector:0.139.0', restartPolicy: 'OnFailure' },
        ],
      },
    });
    const init = findObject(objects, 'Deployment', 'kafka-service').spec.template.spec.initContainers;
    expect(init.map((c: { name: string; restartPolicy?: string }) => [c.name, c.restartPolicy])).toEqual([
      ['wait-for-kafka', undefined],
      ['proxy', 'Always'],
      ['agent', 'Always'],
    ]);
  });

  it('points at a target, or a full key, and passes extra settings through', async () => {
    const key = async (consumer: Record<string, unknown>) =>
      envOf(
        container(
          findObject(await render({ consumer: { enabled: true, ...consumer } }), 'Deployment'),
          'consumer',
        ),
      );
    expect((await key({ target: 'payments' })).get('MAINTENANCE_KEY')).toBe('/maintenance/payments');
    expect((await key({ maintenanceKey: '/ops/switch/payments' })).get('MAINTENANCE_KEY')).toBe(
      '/ops/switch/payments',
    );
    const env = await key({
      env: { KAFKA_BATCH_SIZE: 200, ETCD_UNAVAILABLE: 'maintenance' },
      extraEnv: [{ name: 'SECRET_TOKEN', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    });
    expect(env.get('KAFKA_BATCH_SIZE')).toBe('200');
    expect(env.get('ETCD_UNAVAILABLE')).toBe('maintenance');
    expect(env.get('SECRET_TOKEN')).toEqual({ secretKeyRef: { name: 's', key: 'k' } });
  });

  it('mounts further volumes into the consumer, after the ones it mounts itself', async () => {
    const deployment = findObject(
      await render({
        etcd: { tls: { secretName: 'etcd-tls' } },
        consumer: {
          enabled: true,
          extraVolumes: [{ name: 'ledger', persistentVolumeClaim: { claimName: 'orders-ledger' } }],
          extraVolumeMounts: [{ name: 'ledger', mountPath: '/app/data' }],
        },
      }),
      'Deployment',
      'kafka-service',
    );
    const names = (list: { name: string }[]) => list.map((v) => v.name);
    expect(names(deployment.spec.template.spec.volumes)).toEqual(['etcd-tls', 'ledger']);
    expect(deployment.spec.template.spec.volumes[1]).toEqual({
      name: 'ledger',
      persistentVolumeClaim: { claimName: 'orders-ledger' },
    });
    expect(container(deployment, 'consumer').volumeMounts.at(-1)).toEqual({
      name: 'ledger',
      mountPath: '/app/data',
    });
    const alone = findObject(
      await render({
        consumer: {
          enabled: true,
          extraVolumes: [{ name: 'scratch', emptyDir: {} }],
          extraVolumeMounts: [{ name: 'scratch', mountPath: '/tmp' }],
        },
      }),
      'Deployment',
      'kafka-service',
    );
    expect(alone.spec.template.spec.volumes).toEqual([{ name: 'scratch', emptyDir: {} }]);
    expect(container(alone, 'consumer').volumeMounts).toEqual([{ name: 'scratch', mountPath: '/tmp' }]);
  });

  it('has a Service and a PDB that lets NotReady (in-maintenance) pods be evicted', async () => {
    const objects = await render(consumerOn);
    const selector = findObject(objects, 'Deployment', 'kafka-service').spec.selector.matchLabels;
    const service = findObject(objects, 'Service', 'kafka-service');
    expect(service.spec.selector).toEqual(selector);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 8083, targetPort: 'http', protocol: 'TCP' }]);
    const pdb = findObject(objects, 'PodDisruptionBudget', 'kafka-service');
    expect(pdb.spec).toEqual({
      maxUnavailable: 1,
      selector: { matchLabels: selector },
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    });
    const without = await render({
      consumer: { enabled: true, service: { enabled: false }, pdb: { enabled: false } },
    });
    expect(
      without
        .filter((o) => o.kind === 'Service' || o.kind === 'PodDisruptionBudget')
        .map((o) => o.metadata.name),
    ).toEqual(['kmaint-operator-metrics']);
  });

  it('renders an optional ServiceMonitor for the consumers', async () => {
    const objects = await render({
      consumer: { enabled: true, serviceMonitor: { enabled: true, interval: '5s', scrapeTimeout: '4s' } },
    });
    const monitor = findObject(objects, 'ServiceMonitor', 'kafka-service');
    expect(monitor.spec.endpoints).toEqual([
      { port: 'http', path: '/metrics', interval: '5s', scrapeTimeout: '4s' },
    ]);
    expect(monitor.spec.namespaceSelector).toEqual({ matchNames: ['kmaint-system'] });
  });
});

describe('images', () => {
  it('take a registry (own or global) and a digest that wins over the tag', async () => {
    const image = async (values: unknown) => {
      const objects = await render({ consumer: { enabled: true }, ...(values as object) });
      return [
        container(findObject(objects, 'Deployment', 'kmaint-operator'), 'operator').image as string,
        container(findObject(objects, 'Deployment', 'kafka-service'), 'consumer').image as string,
      ];
    };
    expect(await image({})).toEqual(['kmaint/operator:0.1.0', 'kmaint/service:0.1.0']);
    expect(await image({ global: { imageRegistry: 'mirror.example.com:5000' } })).toEqual([
      'mirror.example.com:5000/kmaint/operator:0.1.0',
      'mirror.example.com:5000/kmaint/service:0.1.0',
    ]);
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(
      await image({
        global: { imageRegistry: 'mirror.example.com' },
        operator: { image: { registry: 'registry.example.com', tag: '9.9.9', digest } },
      }),
    ).toEqual([`registry.example.com/kmaint/operator@${digest}`, 'mirror.example.com/kmaint/service:0.1.0']);
  });

  it('refuse a digest that is not sha256:<64 hex>', async () => {
    const result = await helmTemplate({ operator: { image: { digest: 'latest' } } });
    expect(result.ok ? '' : result.error).toContain("at '/operator/image/digest'");
  });
});

describe('operator availability', () => {
  it('spreads the replicas over nodes and zones by default, softly, and takes constraints of its own', async () => {
    const pod = (objects: K8sObject[]) =>
      findObject(objects, 'Deployment', 'kmaint-operator').spec.template.spec as {
        topologySpreadConstraints: unknown[];
      };
    const selector = findObject(await render(), 'Deployment', 'kmaint-operator').spec.selector;
    expect(pod(await render({ operator: { replicaCount: 2 } })).topologySpreadConstraints).toEqual(
      ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
        maxSkew: 1,
        topologyKey,
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: selector,
      })),
    );
    const own = [
      { maxSkew: 2, topologyKey: 'rack', whenUnsatisfiable: 'DoNotSchedule', labelSelector: selector },
    ];
    expect(
      pod(await render({ operator: { topologySpreadConstraints: own } })).topologySpreadConstraints,
    ).toEqual(own);
  });
});

describe('RBAC for people', () => {
  it('aggregates reading windows into view, edit and admin, and writing them into edit and admin', async () => {
    const objects = await render();
    const view = findObject(objects, 'ClusterRole', 'kmaint-windows-view');
    const edit = findObject(objects, 'ClusterRole', 'kmaint-windows-edit');
    const aggregates = (o: K8sObject) =>
      Object.entries(o.metadata.labels ?? {})
        .filter(([k, v]) => k.startsWith('rbac.authorization.k8s.io/aggregate-to-') && v === 'true')
        .map(([k]) => k.split('aggregate-to-')[1])
        .sort();
    expect(aggregates(view)).toEqual(['admin', 'edit', 'view']);
    expect(aggregates(edit)).toEqual(['admin', 'edit']);
    expect(view.rules).toEqual([
      {
        apiGroups: ['kmaint.io'],
        resources: ['maintenancewindows', 'maintenancewindows/status'],
        verbs: ['get', 'list', 'watch'],
      },
    ]);
    expect(edit.rules).toEqual([
      {
        apiGroups: ['kmaint.io'],
        resources: ['maintenancewindows'],
        verbs: ['create', 'update', 'patch', 'delete', 'deletecollection'],
      },
    ]);
    const off = await render({ rbac: { aggregateToDefaultRoles: false } });
    expect(off.filter((o) => o.metadata.name.startsWith('kmaint-windows-'))).toEqual([]);
  });
});

describe('the PrometheusRule', () => {
  it('is off by default', async () => {
    expect((await render()).filter((o) => o.kind === 'PrometheusRule')).toEqual([]);
  });

  it('holds the three kmaint alerts and one for a missing leader, and passes promtool check rules', async () => {
    const objects = await render({
      prometheusRule: { enabled: true, labels: { release: 'prom' }, windowNotDrainedFor: '7m' },
    });
    const rule = findObject(objects, 'PrometheusRule', 'kmaint');
    expect(rule.metadata.labels?.['release']).toBe('prom');
    const rules = (
      rule.spec as { groups: { rules: { alert: string; for: string; expr: string }[] }[] }
    ).groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual([
      'KmaintWindowNotDrained',
      'KmaintLagAfterWindow',
      'KmaintReconcileErrors',
      'KmaintOperatorNoLeader',
    ]);
    expect(rules[0]?.for).toBe('7m');
    // Every metric an alert asks for is one the programs export (docs/metrics.md lists them).
    const exported = readFileSync(join(repoRoot, 'docs', 'metrics.md'), 'utf8');
    for (const r of rules) {
      for (const metric of r.expr.match(/kmaint_[a-z_]+/g) ?? [])
        expect(exported, metric).toContain(`\`${metric}`);
    }
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-rules-'));
    try {
      const file = join(dir, 'rules.yaml');
      writeFileSync(file, JSON.stringify(rule.spec));
      const result = await run(inject('promtool'), ['check', 'rules', file]);
      expect(result.stdout + result.stderr).toContain('SUCCESS: 4 rules found');
      expect(result.code).toBe(0);
      // The checker is real: a broken expression is refused.
      writeFileSync(file, JSON.stringify(rule.spec).replace('> 0', '> > 0'));
      expect((await run(inject('promtool'), ['check', 'rules', file])).code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('values.schema.json', () => {
  it.each([
    ['an unknown top-level key', { replicas: 2 }, "additional properties 'replicas' not allowed"],
    [
      'an unknown nested key',
      { consumer: { drainTimeout: '45s' } },
      "at '/consumer': additional properties 'drainTimeout' not allowed",
    ],
    [
      'a misspelt deep key',
      { operator: { leaderElection: { enable: true } } },
      "additional properties 'enable' not allowed",
    ],
    [
      'a wrong type',
      { consumer: { drainTimeoutSeconds: '45s' } },
      "at '/consumer/drainTimeoutSeconds': got string, want integer",
    ],
    [
      'a value outside its list',
      { consumer: { kafka: { offsetInitial: 'earliest' } } },
      "at '/consumer/kafka/offsetInitial'",
    ],
    ['a bad duration', { operator: { resyncPeriod: '5 minutes' } }, "at '/operator/resyncPeriod'"],
    ['an empty broker list', { consumer: { kafka: { brokers: [] } } }, "at '/consumer/kafka/brokers'"],
    [
      'a broker without a port',
      { consumer: { kafka: { brokers: ['kafka'] } } },
      "at '/consumer/kafka/brokers/0'",
    ],
    ['an invalid name', { consumer: { name: 'Kafka_Service' } }, "at '/consumer/name'"],
    [
      'a sidecar without an image',
      { consumer: { sidecars: [{ name: 'proxy' }] } },
      "at '/consumer/sidecars/0'",
    ],
    [
      'a produce endpoint mode it does not know',
      { consumer: { messagesSend: { mode: 'open' } } },
      "at '/consumer/messagesSend/mode'",
    ],
    [
      'a token Secret mounted neither as a file nor as a variable',
      {
        consumer: { messagesSend: { mode: 'token', tokenSecret: { name: 's', key: 'token', as: 'volume' } } },
      },
      "at '/consumer/messagesSend/tokenSecret/as'",
    ],
    [
      'token mode without the Secret',
      { consumer: { messagesSend: { mode: 'token' } } },
      "at '/consumer/messagesSend/tokenSecret/name'",
    ],
    [
      'a SASL mechanism it does not know',
      { consumer: { kafka: { sasl: { mechanism: 'gssapi', secretName: 'u' } } } },
      "at '/consumer/kafka/sasl/mechanism'",
    ],
    [
      'SASL without the Secret',
      { consumer: { kafka: { sasl: { mechanism: 'plain' } } } },
      "at '/consumer/kafka/sasl/secretName'",
    ],
    [
      'a Kafka client certificate without its key',
      { consumer: { kafka: { tls: { enabled: true, secretName: 't', certKey: 'tls.crt' } } } },
      "at '/consumer/kafka/tls/keyKey'",
    ],
    [
      'a relative maintenance key',
      { consumer: { maintenanceKey: 'maintenance/x' } },
      "at '/consumer/maintenanceKey'",
    ],
  ])('refuses %s', async (_label, values, message) => {
    const result = await helmTemplate(values);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error).toContain(message);
  });

  it('accepts every key of values.yaml as it ships', async () => {
    const result = await helmTemplate(parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')));
    expect(result.ok ? '' : result.error).toBe('');
  });
});
