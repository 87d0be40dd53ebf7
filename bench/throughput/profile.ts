// `npx node --conditions=@kmaint/source bench/throughput/profile.ts [client ...]`: one throughput run per
// client (default kmaint and kafkajs-batch) under `node --cpu-prof`, against the bench's own servers; the
// .cpuprofile files land in bench/results/profiles/ (git ignores them) for a flame view, and the functions
// with the most self time while messages flow are printed. Not part of `npm run bench`: a profiled run is
// slower and says nothing about speed.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { uniqueName } from '../../test/env/helpers.ts';
import { startBenchEnv } from '../lib/env.ts';
import { benchClients, createTopic, javaProduce } from '../lib/kafka.ts';
import type { WorkerInput } from './worker.ts';

const run = promisify(execFile);
const MESSAGES = 200_000;
const clients = (
  process.argv.length > 2 ? process.argv.slice(2) : ['kmaint', 'kafkajs-batch']
) as WorkerInput['client'][];
const worker = fileURLToPath(new URL('./worker.ts', import.meta.url));
const dir = fileURLToPath(new URL('../results/profiles/', import.meta.url));
mkdirSync(dir, { recursive: true });

const log = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const env = await startBenchEnv(log);
try {
  const c = await benchClients(env);
  const topic = uniqueName('profile');
  try {
    await createTopic(c, topic, 3);
    await javaProduce(env, topic, MESSAGES, 100);
  } finally {
    await c.close();
  }
  for (const client of clients) {
    const input: WorkerInput = {
      client,
      brokers: env.brokers,
      etcdEndpoints: env.etcdEndpoints,
      topic,
      groupId: uniqueName(`g-prof-${client}`),
      key: `/maintenance/${uniqueName('bench-prof')}`,
      memberId: uniqueName('prof'),
      expected: MESSAGES,
    };
    const flags = [
      ...process.execArgv,
      '--cpu-prof',
      `--cpu-prof-dir=${dir}`,
      `--cpu-prof-name=${client}.cpuprofile`,
    ];
    const { stdout, stderr } = await run(
      process.execPath,
      [...(process.env.NOPROF ? process.execArgv : flags), worker, JSON.stringify(input)],
      { timeout: 180_000 },
    );
    if (stderr) log(stderr.slice(0, 2000));
    log(`${client}: ${stdout.trim().split('\n').pop()}`);
    for (const line of selfTime(join(dir, `${client}.cpuprofile`), 20)) console.log(line);
  }
} finally {
  await env.stop();
}
log(`profiles in ${dir}`);

interface CpuProfile {
  nodes: {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
  }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * The functions with the most self time from the first to the last sample inside kafkajs' fetch decoding,
 * so start-up and the group join stay out of it.
 */
function selfTime(file: string, top: number): string[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const fetching = (id: number | undefined): boolean => {
    for (; id !== undefined; id = parent.get(id)) {
      if (byId.get(id)?.callFrame.functionName === 'decodeMessages') return true;
    }
    return false;
  };
  const inside = p.samples.flatMap((id, i) => (fetching(id) ? [i] : []));
  const first = inside[0] ?? 0;
  const last = inside.at(-1) ?? p.samples.length - 1;
  const self = new Map<string, number>();
  let total = 0;
  for (let i = first; i <= last; i++) {
    const frame = byId.get(p.samples[i] ?? -1)?.callFrame;
    if (frame === undefined) continue;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const where = frame.url.replace(/^.*\/(node_modules|consumer|bench)\//, '$1/');
    const name = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + dt);
  }
  return [
    `  ${(total / 1000).toFixed(0)} ms from first to last fetch; self time:`,
    ...[...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([name, us]) =>
          `  ${(us / 1000).toFixed(0).padStart(5)} ms ${((us / total) * 100).toFixed(1).padStart(5)}%  ${name}`,
      ),
  ];
}
