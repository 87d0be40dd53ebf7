import type { BenchEnv } from './env.ts';

/** What one benchmark hands back; run.ts adds the machine facts, timing and load around it. */
export interface BenchOutput {
  /** The knobs of this run (counts, sizes, settings), so a result can be reproduced. */
  params: Record<string, unknown>;
  /** Raw samples and their summaries. */
  results: Record<string, unknown>;
  /** Markdown lines for bench/results/README.md: the numbers a person needs first. */
  summary: string[];
}

export interface Benchmark {
  name: string;
  title: string;
  /** Run only when named (`npx node bench/run.ts <name>`), not by `npm run bench`: it takes minutes. */
  byNameOnly?: boolean;
  run(env: BenchEnv, log: (line: string) => void): Promise<BenchOutput>;
}
