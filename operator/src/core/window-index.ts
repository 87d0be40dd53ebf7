/**
 * Which windows name each switch key and which live in each namespace, by "<namespace>/<name>", so a key's
 * reconcile and a pod's change look at their own windows instead of every window in the cluster (with a
 * thousand windows, a scan per key turned a burst quadratic).
 *
 * An index, not a cache: readers resolve each ref through the informer's cache and check it again, so an
 * entry left behind by a missed delete costs a lookup, never a wrong answer.
 */
export class WindowIndex {
  private readonly keyOf = new Map<string, string | null>();
  private readonly byKey = new Map<string, Set<string>>();
  private readonly byNamespace = new Map<string, Set<string>>();

  /** Records the window's namespace and key (null: its spec names none that parses). */
  put(namespace: string, name: string, key: string | null): void {
    const ref = `${namespace}/${name}`;
    const before = this.keyOf.get(ref);
    if (before !== undefined && before === key) return;
    if (before !== undefined && before !== null) this.drop(this.byKey, before, ref);
    if (key !== null) this.add(this.byKey, key, ref);
    this.keyOf.set(ref, key);
    this.add(this.byNamespace, namespace, ref);
  }

  remove(namespace: string, name: string): void {
    const ref = `${namespace}/${name}`;
    const key = this.keyOf.get(ref);
    if (key === undefined) return;
    if (key !== null) this.drop(this.byKey, key, ref);
    this.drop(this.byNamespace, namespace, ref);
    this.keyOf.delete(ref);
  }

  /** The refs of the windows that name the key. */
  ofKey(key: string): readonly string[] {
    return [...(this.byKey.get(key) ?? [])];
  }

  /** The refs of the windows in the namespace. */
  inNamespace(namespace: string): readonly string[] {
    return [...(this.byNamespace.get(namespace) ?? [])];
  }

  private add(map: Map<string, Set<string>>, at: string, ref: string): void {
    const set = map.get(at);
    if (set === undefined) map.set(at, new Set([ref]));
    else set.add(ref);
  }

  private drop(map: Map<string, Set<string>>, at: string, ref: string): void {
    const set = map.get(at);
    set?.delete(ref);
    if (set?.size === 0) map.delete(at);
  }
}
