import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * A name no other test (or earlier run against the same servers) uses: lower-case, DNS-label safe, so it
 * fits a topic, a consumer group, an etcd key segment and a Kubernetes namespace alike.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${clean || 't'}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

export interface WaitForOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Says what was awaited; the error adds the last value (or the last error) seen. */
  message?: string;
}

/**
 * Polls `fn` until it returns a truthy value and returns that value. Errors thrown by `fn` count as "not
 * yet", so it can wait for a server to come back. Fails with the message and the last value seen.
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 30_000, intervalMs = 200, message = 'condition' } = options;
  const deadline = Date.now() + timeoutMs;
  let last: { value: unknown } | { error: unknown } = { value: undefined };
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = { value };
    } catch (error) {
      last = { error };
    }
    if (Date.now() >= deadline) {
      const seen =
        'error' in last ? `last error: ${describe(last.error)}` : `last value: ${describe(last.value)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}; ${seen}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    const text = JSON.stringify(value);
    return text === undefined ? String(value) : text.slice(0, 2000);
  } catch {
    return String(value);
  }
}
