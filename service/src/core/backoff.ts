/** Delay before retry number `retry` (1-based): base·2^(retry−1), capped so a long run of failures stays bounded. */
export function backoffDelay(retry: number, baseMs: number, capMs = 30_000): number {
  if (retry < 1) return 0;
  return Math.min(capMs, baseMs * 2 ** (retry - 1));
}
