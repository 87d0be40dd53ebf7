import type { LabelSelector } from './window.ts';

/** Kubernetes LabelSelector semantics: every matchLabels entry and every expression must hold. */
export function matchesSelector(labels: Readonly<Record<string, string>>, selector: LabelSelector): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return false;
  }
  for (const req of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, req.key);
    const value = labels[req.key];
    const values = req.values ?? [];
    switch (req.operator) {
      case 'In':
        if (!has || !values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        // An operator this code does not know selects nothing rather than everything.
        return false;
    }
  }
  return true;
}

/**
 * The selector in the apiserver's `labelSelector` query syntax, so a watch brings only the pods it
 * selects; sorted, so equal selectors give one string (and share one watch). null: it selects nothing.
 */
export function selectorQuery(selector: LabelSelector): string | null {
  const terms: string[] = [];
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) terms.push(`${k}=${v}`);
  for (const req of selector.matchExpressions ?? []) {
    const values = [...(req.values ?? [])].sort().join(',');
    switch (req.operator) {
      case 'In':
        terms.push(`${req.key} in (${values})`);
        break;
      case 'NotIn':
        terms.push(`${req.key} notin (${values})`);
        break;
      case 'Exists':
        terms.push(req.key);
        break;
      case 'DoesNotExist':
        terms.push(`!${req.key}`);
        break;
      default:
        return null;
    }
  }
  return terms.sort().join(',');
}

/**
 * The label keys every pod the selector picks must carry (matchLabels, In, Exists). A watch for pods
 * that carry all the keys the selectors of a namespace have in common sees every pod any of them picks.
 */
export function requiredKeys(selector: LabelSelector): string[] {
  const keys = new Set(Object.keys(selector.matchLabels ?? {}));
  for (const req of selector.matchExpressions ?? []) {
    if (req.operator === 'In' || req.operator === 'Exists') keys.add(req.key);
  }
  return [...keys].sort();
}
