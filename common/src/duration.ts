import { fail, ok, type Parsed } from './result.ts';

const unitMs: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const component = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;

/**
 * Parses a Go-style duration ("45s", "1h30m", "250ms", "1.5h") into milliseconds, as Kubernetes users and
 * GoMaint's Go config writes them. A bare number is taken as milliseconds. Negative values are refused:
 * every duration in kmaint is a timeout or a length.
 */
export function parseDuration(input: string): Parsed<number> {
  const text = input.trim();
  if (text === '') return fail('empty duration');
  if (/^\d+$/.test(text)) return ok(Number(text));
  let total = 0;
  component.lastIndex = 0;
  let consumed = 0;
  for (let m = component.exec(text); m !== null; m = component.exec(text)) {
    total += Number(m[1]) * (unitMs[m[2] as string] as number);
    consumed = component.lastIndex;
  }
  if (consumed !== text.length || consumed === 0) {
    return fail(`"${input}" is not a duration (examples: 250ms, 45s, 1h30m)`);
  }
  return ok(total);
}

/** Formats milliseconds the way parseDuration reads them back ("1h30m", "45s", "250ms"). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = Math.round(ms);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
