import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineFacts } from './machine.ts';
import type { BenchOutput } from './types.ts';

export interface BenchRecord extends BenchOutput {
  name: string;
  title: string;
  startedAt: string;
  durationMs: number;
  machine: MachineFacts;
  /** Load averages (1, 5, 15 min) when the benchmark began and ended. */
  load: { start: number[]; end: number[] };
}

export const resultsDir = new URL('../results/', import.meta.url).pathname;

/** Writes <name>.json (via a temp file, so a crash never leaves half a result), then the README. */
export function writeRecord(record: BenchRecord): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${record.name}.json`);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  writeReadme();
  return file;
}

/** bench/results/README.md from every result file present, so one benchmark's rerun keeps the others. */
export function writeReadme(): void {
  const records = readdirSync(resultsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(resultsDir, f), 'utf8')) as BenchRecord);
  const lines = [
    '# kmaint benchmark results',
    '',
    'Written by `npm run bench` (all) or `npx node bench/run.ts <name>` (one); each section comes from',
    '`<name>.json` beside this file, which also holds every raw sample. Each run starts its own Kafka (KRaft)',
    'and etcd through test/env and measures its baseline in the same run. Load averages are given because',
    'other engineers’ tests share the cores: compare figures within a run, not across runs.',
  ];
  for (const r of records) {
    const m = r.machine;
    lines.push(
      '',
      `## ${r.title} (\`${r.name}\`)`,
      '',
      `${r.startedAt}, ${(r.durationMs / 1000).toFixed(0)} s; ${m.cores} cores (${m.cpuModel}), ` +
        `${m.totalMemGiB} GiB; Node ${m.node}, kafkajs ${m.kafkajs}, Kafka ${m.kafka}, ${m.java}; ` +
        `load average ${r.load.start.join(' / ')} at start, ${r.load.end.join(' / ')} at end.`,
      '',
      ...r.summary,
    );
  }
  writeFileSync(join(resultsDir, 'README.md'), `${lines.join('\n')}\n`);
}
