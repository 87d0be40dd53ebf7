/** Delay before retry number `retry` (1-based): base·2^(retry−1), capped so a long run of failures stays bounded. */
export function backoffDelay(retry: number, baseMs: number, capMs = 30_000): number {
  if (retry < 1) return 0;
  return Math.min(capMs, baseMs * 2 ** (retry - 1));
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
