import { fail, ok, parseDuration, type Parsed } from '@kmaint/common';

/** A GET /v1/desired: answer at once, or hold the request until the generation passes `after`. */
export interface PollRequest {
  /** The generation the app already has; null: answer at once. */
  after: number | null;
  waitMs: number;
}

/** Longest a poll may be held; shorter than the app timeout so an open poll never looks like silence. */
export const MAX_WAIT_MS = 60_000;
const DEFAULT_WAIT_MS = 30_000;

export function parsePoll(query: Record<string, unknown>): Parsed<PollRequest> {
  const after = query.after;
  let generation: number | null = null;
  if (after !== undefined && after !== '') {
    if (typeof after !== 'string' || !/^\d{1,15}$/.test(after)) {
      return fail(`"after" must be a generation (a non-negative integer), got ${JSON.stringify(after)}`);
    }
    generation = Number(after);
  }
  let waitMs = generation === null ? 0 : DEFAULT_WAIT_MS;
  if (query.wait !== undefined && query.wait !== '') {
    const parsed: Parsed<number> =
      typeof query.wait === 'string' ? parseDuration(query.wait) : fail('must be a duration');
    if (!parsed.ok) return fail(`"wait" must be a duration like 30s: ${parsed.error}`);
    if (parsed.value > MAX_WAIT_MS) return fail(`"wait" must be at most ${MAX_WAIT_MS / 1000}s`);
    waitMs = parsed.value;
  }
  return ok({ after: generation, waitMs });
}
