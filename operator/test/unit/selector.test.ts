import { describe, expect, it } from 'vitest';
import { matchesSelector } from '../../src/core/selector.ts';

describe('matchesSelector (Kubernetes LabelSelector semantics)', () => {
  const labels = { app: 'svc', tier: 'consumer' };
  it.each([
    [{}, true],
    [{ matchLabels: { app: 'svc' } }, true],
    [{ matchLabels: { app: 'svc', tier: 'web' } }, false],
    [{ matchExpressions: [{ key: 'app', operator: 'In' as const, values: ['svc', 'x'] }] }, true],
    [{ matchExpressions: [{ key: 'app', operator: 'NotIn' as const, values: ['svc'] }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn' as const, values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' as const }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' as const }] }, false],
    [
      { matchLabels: { app: 'svc' }, matchExpressions: [{ key: 'zone', operator: 'Exists' as const }] },
      false,
    ],
  ])('%j -> %s', (selector, expected) => {
    expect(matchesSelector(labels, selector)).toBe(expected);
  });
});

describe('selectorQuery', () => {
  it('writes the apiserver labelSelector syntax, sorted, so equal selectors share one watch', async () => {
    const { selectorQuery } = await import('../../src/core/selector.ts');
    expect(
      selectorQuery({
        matchLabels: { app: 'orders', tier: 'consumer' },
        matchExpressions: [
          { key: 'track', operator: 'In', values: ['stable', 'canary'] },
          { key: 'legacy', operator: 'DoesNotExist' },
          { key: 'zone', operator: 'Exists' },
          { key: 'env', operator: 'NotIn', values: ['dev'] },
        ],
      }),
    ).toBe('!legacy,app=orders,env notin (dev),tier=consumer,track in (canary,stable),zone');
    expect(selectorQuery({})).toBe('');
    expect(selectorQuery({ matchExpressions: [{ key: 'a', operator: 'Bogus' as 'In' }] })).toBeNull();
  });
});

describe('requiredKeys', () => {
  it('lists the keys a selected pod must carry, so one watch on them serves a namespace', async () => {
    const { requiredKeys } = await import('../../src/core/selector.ts');
    expect(
      requiredKeys({
        matchLabels: { app: 'orders' },
        matchExpressions: [
          { key: 'track', operator: 'In', values: ['stable'] },
          { key: 'zone', operator: 'Exists' },
          { key: 'legacy', operator: 'DoesNotExist' },
          { key: 'env', operator: 'NotIn', values: ['dev'] },
        ],
      }),
    ).toEqual(['app', 'track', 'zone']);
    expect(requiredKeys({})).toEqual([]);
  });
});
