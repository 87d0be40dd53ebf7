import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EnvError } from './errors.ts';
import { freePort } from './ports.ts';
import { Supervised } from './supervisor.ts';

/** Debian's binary (apt-get install prometheus); the packaged service is never used. */
export function whichTool(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch (err) {
    throw new EnvError('ENV_TOOL_MISSING', `${name} not found on PATH (run test/env/install.sh)`, {
      cause: err,
    });
  }
}

/**
 * A Prometheus of our own: own config and data dir, a free loopback port, 1 s scrapes of whatever
 * file_sd target files the tests drop into `targetsDir` (one file per test, so tests do not clash).
 */
export class PrometheusServer {
  readonly url: string;
  readonly targetsDir: string;
  readonly process: Supervised;

  private constructor(url: string, targetsDir: string, proc: Supervised) {
    this.url = url;
    this.targetsDir = targetsDir;
    this.process = proc;
  }

  static async start(opts: { dir: string }): Promise<PrometheusServer> {
    const targetsDir = join(opts.dir, 'targets');
    mkdirSync(targetsDir, { recursive: true });
    const config = join(opts.dir, 'prometheus.yml');
    writeFileSync(
      config,
      JSON.stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        scrape_configs: [
          {
            job_name: 'kmaint-test',
            file_sd_configs: [{ files: [join(targetsDir, '*.json')], refresh_interval: '1s' }],
          },
        ],
      }),
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const proc = new Supervised({
      name: 'prometheus',
      command: whichTool('prometheus'),
      args: [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(opts.dir, 'data')}`,
        '--storage.tsdb.retention.time=2h',
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      logFile: join(opts.dir, 'prometheus.log'),
      readyTimeoutMs: 90_000,
      ready: async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok,
    });
    await proc.start();
    return new PrometheusServer(url, targetsDir, proc);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }
}
