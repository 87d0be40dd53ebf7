import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';
import { removeScrapeTargets, setScrapeTargets } from '../../env/prometheus-targets.ts';

async function promtoolCheck(sample: string): Promise<{ code: number; output: string }> {
  const child = execFile(inject('promtool'), ['check', 'metrics']);
  child.stdin?.end(sample);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, output };
}

describe('Prometheus of the test environment', () => {
  const run = uniqueName('scrape');
  const metrics = `# HELP kmaint_env_smoke_total Samples served to the smoke test.\n# TYPE kmaint_env_smoke_total counter\nkmaint_env_smoke_total{run="${run}"} 42\n`;
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/metrics' ? 200 : 404, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(req.url === '/metrics' ? metrics : '');
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    removeScrapeTargets(run);
    await new Promise((resolve) => server.close(resolve));
  });

  it('scrapes a target that a test registers', async () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    setScrapeTargets(run, [`127.0.0.1:${address.port}`]);
    const query = encodeURIComponent(`kmaint_env_smoke_total{run="${run}"}`);
    const value = await waitFor(
      async () => {
        const res = await fetch(`${inject('prometheusUrl')}/api/v1/query?query=${query}`);
        const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
        return body.data.result[0]?.value[1];
      },
      { message: 'the sample in Prometheus', timeoutMs: 30_000 },
    );
    expect(value).toBe('42');
  });

  it('promtool accepts a good metrics sample and rejects a broken one', async () => {
    expect(await promtoolCheck(metrics)).toEqual({ code: 0, output: '' });
    const broken = await promtoolCheck('kmaint_broken{ 1\n');
    expect(broken.code).not.toBe(0);
    expect(broken.output).toMatch(/pars/i);
  });
});
