/** JSON merge patches (RFC 7386) as the apiserver applies them to a status. */
type Json = Record<string, unknown>;
const isPlain = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The merge patch that makes `before` into `after`: a JSON merge patch keeps every field it does not
 * mention, so a field that no longer applies (windowStart of a window that closed) is sent as null.
 */
export function withRemovals(before: unknown, after: object): Json {
  const patch: Json = { ...(after as Json) };
  if (!isPlain(before)) return patch;
  for (const [k, v] of Object.entries(before)) {
    if (!(k in patch)) patch[k] = null;
    else if (isPlain(v) && isPlain(patch[k])) patch[k] = withRemovals(v, patch[k]);
  }
  return patch;
}
