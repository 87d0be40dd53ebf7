/** Summary of repeated measurements; percentiles by nearest rank, so every figure is a value seen. */
export interface Summary {
  n: number;
  median: number;
  p95: number;
  /** With fewer than 100 samples, the largest. */
  p99: number;
  min: number;
  max: number;
  mean: number;
}

const round = (x: number): number => Math.round(x * 10) / 10;

/** Nearest-rank percentile of sorted values (q in 0..1). */
function percentile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] as number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('summarize: no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: round(percentile(sorted, 0.5)),
    p95: round(percentile(sorted, 0.95)),
    p99: round(percentile(sorted, 0.99)),
    min: round(sorted[0] as number),
    max: round(sorted[sorted.length - 1] as number),
    mean: round(sorted.reduce((s, x) => s + x, 0) / sorted.length),
  };
}

/** "median 212 · p95 240 · min 200 · max 251 (n 15)": one line for logs and the README. */
export function formatSummary(s: Summary, unit = 'ms'): string {
  const f = (x: number): string => `${Math.round(x)}`;
  return `median ${f(s.median)} · p95 ${f(s.p95)} · min ${f(s.min)} · max ${f(s.max)} ${unit} (n ${s.n})`;
}
