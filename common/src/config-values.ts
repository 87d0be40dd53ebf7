import { fail, ok, type Parsed } from './result.ts';

// Parsers of environment variable values that the programs' config.ts files share, so a variable that
// means the same in the service, the agent and the library is read and refused the same way.

/** Unset and blank are the same: the default applies. */
export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

export function text(raw: string): Parsed<string> {
  return ok(raw.trim());
}

export function oneOf<const T extends string>(choices: readonly T[]) {
  return (raw: string): Parsed<T> => {
    const value = raw.trim().toLowerCase();
    return (choices as readonly string[]).includes(value)
      ? ok(value as T)
      : fail(`must be one of ${choices.join(', ')}, got "${raw}"`);
  };
}

/** A member id or client id: what etcd keys and Kafka ids take without escaping. */
export function identifier(raw: string): Parsed<string> {
  const value = raw.trim();
  return /^[A-Za-z0-9._-]{1,253}$/.test(value)
    ? ok(value)
    : fail(`must be 1-253 letters, digits, ".", "_" or "-", got "${raw}"`);
}

export function etcdKey(raw: string): Parsed<string> {
  const key = raw.trim();
  if (!key.startsWith('/') || key.endsWith('/') || key.length < 2) {
    return fail(`must be an etcd key like /maintenance/kafka-service, got "${raw}"`);
  }
  return ok(key);
}
