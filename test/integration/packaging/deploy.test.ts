import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  helmBin,
  helmTemplate,
  kubeVersion,
  linters,
  parseObjects,
  repoRoot,
  run,
  runOk,
  type K8sObject,
} from './tools.ts';

// Offline checks of deploy/: the plain manifests are the chart's current rendering, the examples are
// the three kinds of window, the kind files fit the chart, the Prometheus configs and the dashboard's
// queries pass upstream promtool, and the dashboard only asks for metrics the programs export. The
// apiserver's verdict on all of them is in server.test.ts.

const deploy = (...parts: string[]) => join(repoRoot, 'deploy', ...parts);
const read = (...parts: string[]) => readFileSync(deploy(...parts), 'utf8');

let work = '';
let promtool = '';
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kmaint-deploy-'));
  // Upstream promtool: Debian's is built without Kubernetes service discovery.
  const built = await runOk('bash', [join(repoRoot, 'test/env/build-promtool.sh')], { timeoutMs: 1_200_000 });
  promtool = built.trim().split('\n').pop() ?? '';
}, 1_200_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('deploy/manifests', () => {
  it('are what deploy/render-manifests.sh renders from the chart now', async () => {
    await runOk('bash', [deploy('render-manifests.sh'), work], {
      env: { HELM: helmBin(), KUBE_VERSION: kubeVersion },
    });
    for (const file of ['kmaint.yaml', 'example-consumer.yaml']) {
      expect(
        read('manifests', file),
        `deploy/manifests/${file} is stale: run deploy/render-manifests.sh`,
      ).toBe(readFileSync(join(work, file), 'utf8'));
    }
  });

  it('hold the operator in namespace kmaint, the consumer separately, and no copy of the CRD', () => {
    const main = parseObjects(read('manifests', 'kmaint.yaml'));
    expect(main.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['Namespace', 'ClusterRole', 'Deployment', 'Service']),
    );
    expect(
      main.filter((o) => o.metadata.namespace !== undefined).every((o) => o.metadata.namespace === 'kmaint'),
    ).toBe(true);
    // crds/ is applied as it is; a copy here would go stale with every schema change.
    expect(main.some((o) => o.kind === 'CustomResourceDefinition')).toBe(false);
    const consumer = parseObjects(read('manifests', 'example-consumer.yaml'));
    expect(consumer.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Deployment/kafka-service',
      'Service/kafka-service',
      'PodDisruptionBudget/kafka-service',
    ]);
  });
});

describe('deploy/examples', () => {
  const windows = Object.fromEntries(
    readdirSync(deploy('examples')).map((f) => [f, parseObjects(read('examples', f))] as const),
  );

  it('are one MaintenanceWindow each: immediate, scheduled and recurring', () => {
    expect(Object.keys(windows).sort()).toEqual([
      'window-immediate.yaml',
      'window-recurring.yaml',
      'window-scheduled.yaml',
    ]);
    for (const [file, objects] of Object.entries(windows)) {
      expect(
        objects.map((o) => `${o.apiVersion} ${o.kind}`),
        file,
      ).toEqual(['kmaint.io/v1alpha1 MaintenanceWindow']);
      // No namespace: they go wherever `kubectl apply -n` sends them.
      expect(objects[0]?.metadata.namespace, file).toBeUndefined();
    }
    const spec = (file: string) => (windows[file]?.[0] as K8sObject).spec;
    expect(spec('window-immediate.yaml').schedule).toBeUndefined();
    expect(Object.keys(spec('window-scheduled.yaml').schedule).sort()).toEqual(['end', 'start']);
    expect(Object.keys(spec('window-recurring.yaml').schedule).sort()).toEqual([
      'cron',
      'duration',
      'timeZone',
    ]);
  });

  it('select the example consumer that the chart and the kind walk-through install', async () => {
    const objects = await helmTemplate({ consumer: { enabled: true } });
    if (!objects.ok) throw new Error(objects.error);
    const podLabels = objects.objects.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'kafka-service',
    )?.spec.template.metadata.labels as Record<string, string>;
    for (const file of ['window-immediate.yaml', 'window-scheduled.yaml']) {
      const { target } = (windows[file]?.[0] as K8sObject).spec;
      expect(target.name).toBe('kafka-service');
      expect(podLabels).toMatchObject(target.selector.matchLabels);
    }
  });
});

describe('deploy/kind', () => {
  it('values pass the chart schema and use the loaded images, never pulled', async () => {
    const result = await helmTemplate(parse(read('kind', 'values.yaml')));
    if (!result.ok) throw new Error(result.error);
    const images = result.objects
      .filter((o) => o.kind === 'Deployment')
      .flatMap((o) => o.spec.template.spec.containers as { image: string; imagePullPolicy: string }[]);
    expect(images.map((c) => [c.image, c.imagePullPolicy]).sort()).toEqual([
      ['kmaint/operator:dev', 'Never'],
      ['kmaint/service:dev', 'Never'],
    ]);
  });

  it('cluster config pins its node image by digest, and up.sh builds the images it loads', () => {
    const cluster = parse(read('kind', 'cluster.yaml')) as {
      kind: string;
      apiVersion: string;
      nodes: { image: string }[];
    };
    expect(cluster.apiVersion).toBe('kind.x-k8s.io/v1alpha4');
    expect(cluster.nodes.length).toBeGreaterThan(1);
    for (const node of cluster.nodes)
      expect(node.image).toMatch(/^kindest\/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}$/);
    const up = read('kind', 'up.sh');
    expect(up).toContain('docker build --target service -t kmaint/service:dev');
    expect(up).toContain('docker build --target operator -t kmaint/operator:dev');
    expect(up).toContain('kind load docker-image --name "$CLUSTER" kmaint/service:dev kmaint/operator:dev');
  });

  it('backing services answer on the names the values point at', () => {
    const objects = parseObjects(read('kind', 'backing-services.yaml'));
    const values = parse(read('kind', 'values.yaml')) as {
      etcd: { endpoints: string[] };
      consumer: { kafka: { brokers: string[] } };
    };
    const services = new Map(
      objects
        .filter((o) => o.kind === 'Service')
        .map((o) => [o.metadata.name, o.spec.ports[0].port as number]),
    );
    for (const address of [...values.etcd.endpoints, ...values.consumer.kafka.brokers]) {
      const [, host = '', port = ''] = /^(?:https?:\/\/)?([^:]+):(\d+)$/.exec(address) ?? [];
      expect(services.get(host), address).toBe(Number(port));
    }
  });
});

describe('shell scripts', () => {
  it('pass shellcheck', async () => {
    const { shellcheck } = await linters();
    const scripts = [
      deploy('kind', 'up.sh'),
      deploy('render-manifests.sh'),
      join(repoRoot, 'test/env/build-compose.sh'),
      join(repoRoot, 'test/env/build-promtool.sh'),
      join(repoRoot, 'test/env/install-linters.sh'),
      join(repoRoot, 'test/env/install-chromium.sh'),
      join(repoRoot, 'test/env/build-images.sh'),
      join(repoRoot, 'test/env/real-node.sh'),
      ...['run', 'kafka-run-class.sh', 'kafka-server-start.sh', 'kafka-topics.sh'].map((script) =>
        join(repoRoot, 'test/env/images/kafka/bin', script),
      ),
      join(repoRoot, 'charts/sync-files.sh'),
      join(repoRoot, 'deploy/compose/kafka-topics'),
      join(repoRoot, 'cli/bin/kubectl-kmaint'),
    ];
    const result = await run(shellcheck, scripts);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });
});

describe('deploy/prometheus', () => {
  it.each(['scrape-config.yaml', 'prometheus-compose.yml'])(
    '%s passes promtool check config',
    async (file) => {
      const result = await run(promtool, ['check', 'config', '--syntax-only', deploy('prometheus', file)]);
      expect(result.stdout + result.stderr).toContain('SUCCESS');
      expect(result.code).toBe(0);
    },
  );

  it('adds no target label that a kmaint metric uses itself (it would be renamed exported_<name>)', () => {
    const config = parse(read('prometheus', 'scrape-config.yaml')) as {
      scrape_configs: { relabel_configs: { target_label?: string }[] }[];
    };
    const targetLabels = config.scrape_configs.flatMap((j) =>
      j.relabel_configs.flatMap((r) => r.target_label ?? []),
    );
    const metricLabels = ['consumer/src/metrics.ts', 'operator/src/metrics.ts']
      .map((f) => readFileSync(join(repoRoot, f), 'utf8'))
      .flatMap((text) => [...text.matchAll(/labelNames: \[([^\]]*)\]/g)])
      .flatMap((m) => [...(m[1] ?? '').matchAll(/'(\w+)'/g)].map((l) => l[1]));
    expect(metricLabels).toContain('component');
    for (const label of targetLabels) expect(metricLabels, label).not.toContain(label);
  });

  it('keeps NotReady pods: consumers in a window are scraped while they drain', () => {
    const config = parse(read('prometheus', 'scrape-config.yaml')) as {
      scrape_configs: {
        kubernetes_sd_configs: { role: string }[];
        relabel_configs: { source_labels?: string[] }[];
      }[];
    };
    const job = config.scrape_configs[0];
    expect(job?.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    const relabelled = job?.relabel_configs.flatMap((r) => r.source_labels ?? []) ?? [];
    expect(relabelled.some((l) => l.includes('ready'))).toBe(false);
  });
});

describe('deploy/grafana dashboard', () => {
  interface Panel {
    type: string;
    title: string;
    targets?: { expr: string }[];
  }
  const dashboard = JSON.parse(read('grafana', 'kmaint-dashboard.json')) as {
    panels: Panel[];
    annotations: { list: { expr: string }[] };
  };
  const queries = [
    ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr }))),
    ...dashboard.annotations.list.map((a) => ({ title: 'annotation', expr: a.expr })),
  ];
  const exported = ['consumer/src/metrics.ts', 'operator/src/metrics.ts']
    .map((f) => readFileSync(join(repoRoot, f), 'utf8'))
    .join('\n');

  it('has queries for the consumers and the operator', () => {
    expect(queries.length).toBeGreaterThan(15);
    expect(queries.some((q) => q.expr.includes('kmaint_operator_'))).toBe(true);
    expect(queries.some((q) => q.expr.includes('kmaint_maintenance_state'))).toBe(true);
  });

  it('asks only for metrics the service and the operator export', () => {
    for (const { title, expr } of queries) {
      for (const [metric] of expr.matchAll(/kmaint_\w+/g)) {
        const base = metric.replace(/_(bucket|sum|count)$/, '');
        expect(exported, `${title}: ${metric}`).toContain(`'${base}`);
      }
    }
  });

  it('has queries that are valid PromQL (promtool check rules)', async () => {
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: queries.map((q, i) => ({
            record: `kmaint:dashboard_query_${i}`,
            expr: q.expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*'),
          })),
        },
      ],
    };
    const file = join(work, 'dashboard-rules.yaml');
    writeFileSync(file, stringify(rules));
    const result = await run(promtool, ['check', 'rules', file]);
    expect(result.stdout + result.stderr).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(result.code).toBe(0);
  });
});
