// `npm run bench` runs every benchmark; `npx node bench/run.ts drain` (or throughput, soak, fault-soak) runs some.
// Each starts the real servers once for the whole run, writes bench/results/<name>.json and README.md.
import { drain } from './drain/index.ts';
import { faultSoak } from './fault-soak/index.ts';
import { soak } from './soak/index.ts';
import { throughput } from './throughput/index.ts';
import { startBenchEnv } from './lib/env.ts';
import { loadAverage, machineFacts } from './lib/machine.ts';
import { writeRecord } from './lib/report.ts';
import type { Benchmark } from './lib/types.ts';

const all: Benchmark[] = [drain, throughput, soak, faultSoak];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => !all.some((b) => b.name === n));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${all.map((b) => b.name).join(', ')}`);
  process.exit(2);
}
const selected =
  wanted.length === 0 ? all.filter((b) => b.byNameOnly !== true) : all.filter((b) => wanted.includes(b.name));

const log = (line: string): void => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const runStarted = performance.now();
const env = await startBenchEnv(log);
let failed = false;
try {
  for (const bench of selected) {
    log(`${bench.name}: ${bench.title}`);
    const startedAt = new Date().toISOString();
    const machine = machineFacts(env.kafkaVersion, env.javaVersion);
    const started = performance.now();
    try {
      const out = await bench.run(env, log);
      const file = writeRecord({
        name: bench.name,
        title: bench.title,
        startedAt,
        durationMs: Math.round(performance.now() - started),
        machine,
        load: { start: machine.loadAvg, end: loadAverage() },
        ...out,
      });
      log(`${bench.name}: done in ${((performance.now() - started) / 1000).toFixed(0)} s → ${file}`);
      for (const line of out.summary) console.log(line);
    } catch (err) {
      failed = true;
      log(`${bench.name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }
} finally {
  await env.stop();
}
log(`bench finished in ${((performance.now() - runStarted) / 1000).toFixed(0)} s`);
process.exit(failed ? 1 : 0);
