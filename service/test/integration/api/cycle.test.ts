import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../../../test/env/helpers.ts';
import { removeScrapeTargets, setScrapeTargets } from '../../../../test/env/prometheus-targets.ts';
import { Cluster } from './cluster.ts';
import { ServiceProcess } from './service-process.ts';

/**
 * One whole maintenance cycle watched from outside, as Kubernetes and a person would: /readyz polled
 * throughout, /health showing the drain, and a real Prometheus scraping /metrics.
 */

const cluster = new Cluster();
const name = uniqueName('api-cycle');
const topic = name;
const group = name;
const key = `/maintenance/${name}`;
const MESSAGES = 24;
let service: ServiceProcess;
const scrapes: string[] = [];

/** `promtool check metrics` reads the exposition on stdin and prints each naming or format problem. */
async function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const child = execFile(inject('promtool'), ['check', 'metrics']);
  const output: string[] = [];
  child.stdout?.on('data', (d) => output.push(String(d)));
  child.stderr?.on('data', (d) => output.push(String(d)));
  child.stdin?.end(text);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, output: output.join('') };
}

interface Sample {
  ready: number;
  readyState: string;
  state: string;
  inFlight: number;
  drain: { startedAt: string; elapsedMs: number; timeoutMs: number; inFlight: number } | null;
}

async function sample(): Promise<Sample> {
  const [ready, health] = await Promise.all([service.get('/readyz'), service.get('/health')]);
  return {
    ready: ready.status,
    readyState: ready.status === 200 ? ready.body.state : ready.body.error.message,
    state: health.body.maintenance.state,
    inFlight: health.body.inFlight,
    drain: health.body.maintenance.drain,
  };
}

/** Polls until stopped; the samples are the whole story of the cycle as a prober saw it. */
function watch(): { stop: () => Promise<Sample[]> } {
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) samples.push(await sample());
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function promQuery(query: string): Promise<number | undefined> {
  const url = `${inject('prometheusUrl')}/api/v1/query?query=${encodeURIComponent(query)}`;
  const body = (await (await fetch(url)).json()) as { data: { result: { value: [number, string] }[] } };
  const first = body.data.result[0];
  return first === undefined ? undefined : Number(first.value[1]);
}

beforeAll(async () => {
  await cluster.connect();
  await cluster.ensureTopics([topic]);
  service = await ServiceProcess.start({
    KAFKA_TOPICS: topic,
    KAFKA_CONSUMER_GROUP: group,
    MAINTENANCE_KEY: key,
    MEMBER_ID: name,
    // Slow enough that a drain has something in flight to wait for.
    SIMULATED_WORK_TIME: '1500ms',
  });
  setScrapeTargets(name, [`127.0.0.1:${service.port}`], { test: name });
  await waitFor(async () => (await service.get('/readyz')).status === 200, {
    timeoutMs: 60_000,
    message: 'the service to consume',
  });
});

afterAll(async () => {
  removeScrapeTargets(name);
  await service?.kill();
  await cluster.close();
});

describe('a maintenance cycle seen from outside', () => {
  it('/readyz follows the state, /health shows the drain, Prometheus sees the gauge flip', async () => {
    const gauge = (state: string) => `kmaint_maintenance_state{test="${name}",state="${state}"}`;
    await waitFor(async () => (await promQuery(gauge('running'))) === 1, {
      timeoutMs: 30_000,
      message: 'Prometheus to scrape the running service',
    });

    await cluster.produce(topic, MESSAGES);
    await waitFor(async () => (await service.get('/health')).body.inFlight > 0, {
      message: 'messages in flight',
    });

    const watcher = watch();
    await cluster.switchTo(key, 'true');
    await waitFor(async () => (await service.state()) === 'maintenance', {
      timeoutMs: 60_000,
      message: 'maintenance',
    });
    await waitFor(async () => (await promQuery(gauge('maintenance'))) === 1, {
      timeoutMs: 30_000,
      message: 'Prometheus to see kmaint_maintenance_state{state="maintenance"} 1',
    });
    expect(await promQuery(gauge('running'))).toBe(0);
    expect(await promQuery(`kmaint_maintenance_desired{test="${name}"}`)).toBe(1);

    const inMaintenance = await service.get('/metrics');
    scrapes.push(inMaintenance.body);

    await cluster.switchTo(key, 'false');
    await waitFor(async () => (await service.get('/readyz')).status === 200, {
      timeoutMs: 60_000,
      message: '/readyz 200 again',
    });
    await waitFor(async () => (await promQuery(gauge('running'))) === 1, {
      timeoutMs: 30_000,
      message: 'Prometheus to see the service running again',
    });
    const samples = await watcher.stop();

    // The states in the order a prober met them.
    const states = samples.map((s) => s.state).filter((s, i, all) => i === 0 || all[i - 1] !== s);
    expect(states.join(' → ')).toMatch(/^running → draining → maintenance → (resuming → )?running$/);
    for (const s of samples) {
      if (s.ready === 200) expect(s.readyState).toBe('running');
      else expect(s.readyState).not.toContain('state running');
    }
    expect(samples.some((s) => s.state === 'maintenance' && s.ready === 503)).toBe(true);
    const draining = samples.filter((s) => s.state === 'draining');
    expect(draining.length).toBeGreaterThan(0);
    for (const s of draining) expect(s.drain).toMatchObject({ timeoutMs: 45_000 });
    expect(draining.some((s) => (s.drain?.inFlight ?? 0) > 0)).toBe(true);

    expect(
      await promQuery(
        `kmaint_maintenance_transitions_total{test="${name}",from="draining",to="maintenance"}`,
      ),
    ).toBe(1);
    expect(inMaintenance.body).toContain('kmaint_maintenance_state{state="maintenance"} 1');

    await waitFor(() => cluster.allCommitted(group, topic), {
      timeoutMs: 120_000,
      message: 'every message processed and committed after the cycle',
    });
  });

  it('promtool check metrics finds nothing to complain about, in and out of maintenance', async () => {
    scrapes.push((await service.get('/metrics')).body);
    expect(scrapes).toHaveLength(2);
    for (const text of scrapes) expect(await promtoolCheck(text)).toEqual({ code: 0, output: '' });
  });
});
