import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { createTopicsWithLeaders } from '../../env/kafka.ts';
import { freePort } from '../../env/ports.ts';
import { removeScrapeTargets, setScrapeTargets } from '../../env/prometheus-targets.ts';
import { repoRoot } from './tools.ts';
import { parse } from 'yaml';

// The Grafana dashboard's queries against the test environment's real Prometheus, scraping a real
// service (on the real Kafka and etcd) under the labels the scrape config in deploy/prometheus gives:
// the panels a person watches during a window show the window.

interface Panel {
  title: string;
  targets?: { expr: string }[];
}
const dashboard = JSON.parse(
  readFileSync(join(repoRoot, 'deploy/grafana/kmaint-dashboard.json'), 'utf8'),
) as {
  panels: Panel[];
};

const namespace = uniqueName('dash');
const pod = uniqueName('dash-pod');
const key = `/maintenance/${uniqueName('dash')}`;
const targets = uniqueName('dashboard');
let service: ChildProcess | undefined;
let etcd: Etcd3;

/** The panel's first query as Grafana would send it with this namespace selected. */
function query(title: string): string {
  const expr = dashboard.panels.find((p) => p.title === title)?.targets?.[0]?.expr;
  if (!expr) throw new Error(`no panel "${title}" with a query`);
  return expr.replaceAll('$namespace', namespace).replaceAll('$__rate_interval', '1m');
}

async function prometheus(
  expr: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const url = `${inject('prometheusUrl')}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const body = (await (await fetch(url, { signal: AbortSignal.timeout(5000) })).json()) as {
    status: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`query failed: ${JSON.stringify(body)}`);
  return body.data.result;
}

/** The labels the Kubernetes scrape job sets on every target. */
function scrapeTargetLabels(): string[] {
  const config = parse(readFileSync(join(repoRoot, 'deploy/prometheus/scrape-config.yaml'), 'utf8')) as {
    scrape_configs: { relabel_configs: { target_label?: string }[] }[];
  };
  return config.scrape_configs
    .flatMap((job) => job.relabel_configs.map((r) => r.target_label))
    .filter((l): l is string => l !== undefined)
    .sort();
}

async function scalar(title: string): Promise<number | undefined> {
  const [first] = await prometheus(query(title));
  return first === undefined ? undefined : Number(first.value[1]);
}

beforeAll(async () => {
  const topic = uniqueName('dash-topic');
  const admin = new Kafka({ brokers: [inject('kafkaBrokers')], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await createTopicsWithLeaders(admin, [{ topic, numPartitions: 1 }]);
  await admin.disconnect();
  etcd = new Etcd3({ hosts: inject('etcdEndpoints') });
  const port = await freePort();
  service = spawn(
    join(repoRoot, 'node_modules/.bin/node'),
    ['--conditions=@kmaint/source', 'service/src/main.ts'],
    {
      cwd: repoRoot,
      stdio: 'ignore',
      env: {
        ...process.env,
        HTTP_PORT: String(port),
        KAFKA_BROKERS: inject('kafkaBrokers'),
        ETCD_ENDPOINTS: inject('etcdEndpoints'),
        KAFKA_TOPICS: topic,
        KAFKA_CONSUMER_GROUP: uniqueName('dash-group'),
        MAINTENANCE_KEY: key,
        MEMBER_ID: pod,
        LOG_LEVEL: 'warn',
      },
    },
  );
  // Under the labels deploy/prometheus/scrape-config.yaml attaches to a consumer pod.
  const labels = { namespace, pod, app: 'kafka-service' };
  expect(Object.keys(labels).sort()).toEqual(scrapeTargetLabels());
  setScrapeTargets(targets, [`127.0.0.1:${port}`], labels);
}, 120_000);

afterAll(async () => {
  removeScrapeTargets(targets);
  service?.kill('SIGKILL');
  await etcd?.delete().key(key);
  etcd?.close();
});

describe('the Grafana dashboard on a real Prometheus', () => {
  it('shows a running consumer with its dependencies up', async () => {
    // Starting and joining are not maintenance either: wait for a scrape of the consumer consuming.
    const states = await waitFor(
      async () => {
        const r = await prometheus(query('Consumers by state'));
        const byState = Object.fromEntries(r.map((s) => [s.metric['state'], Number(s.value[1])]));
        return byState['running'] === 1 ? byState : undefined;
      },
      { timeoutMs: 60_000, message: 'the consumer scraped while running' },
    );
    expect(await scalar('Consumers in maintenance')).toBe(0);
    expect(states).toEqual({
      running: 1,
      draining: 0,
      maintenance: 0,
      resuming: 0,
      starting: 0,
      joining: 0,
    });
    // kafka and etcd, 1 = up, as the lowest across consumers.
    const up = await waitFor(
      async () => {
        const r = await prometheus(query('Dependencies up'));
        return r.length === 2 ? r : undefined;
      },
      { timeoutMs: 60_000, message: 'a kafka and an etcd series' },
    );
    expect(Object.fromEntries(up.map((s) => [s.metric['component'], s.value[1]]))).toEqual({
      etcd: '1',
      kafka: '1',
    });
    expect(await scalar('Switch on')).toBe(0);
  });

  it('shows the window: switch on, the consumer in maintenance, the transitions counted', async () => {
    await etcd.put(key).value('true');
    await waitFor(async () => (await scalar('Consumers in maintenance')) === 1, {
      timeoutMs: 60_000,
      message: 'the dashboard to show the consumer in maintenance',
    });
    expect(await scalar('Switch on')).toBe(1);
    expect(await scalar('In-flight messages')).toBe(0);
    await waitFor(
      async () => {
        const r = await prometheus(query('State transitions'));
        return r.some((s) => s.metric['from'] === 'draining' && s.metric['to'] === 'maintenance');
      },
      { timeoutMs: 60_000, message: 'the draining → maintenance transition on the dashboard' },
    );
    await etcd.put(key).value('false');
    await waitFor(async () => (await scalar('Consumers in maintenance')) === 0, {
      timeoutMs: 60_000,
      message: 'the dashboard to show the consumer back',
    });
  });
});
