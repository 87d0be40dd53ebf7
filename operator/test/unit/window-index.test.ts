import { describe, expect, it } from 'vitest';
import { WindowIndex } from '../../src/core/window-index.ts';

describe('WindowIndex', () => {
  it('finds the windows of a key and of a namespace', () => {
    const index = new WindowIndex();
    index.put('a', 'w1', '/maintenance/x');
    index.put('b', 'w2', '/maintenance/x');
    index.put('a', 'w3', '/maintenance/y');
    expect([...index.ofKey('/maintenance/x')].sort()).toEqual(['a/w1', 'b/w2']);
    expect([...index.inNamespace('a')].sort()).toEqual(['a/w1', 'a/w3']);
    expect(index.ofKey('/maintenance/z')).toEqual([]);
  });

  it('moves a window whose key changed, and keeps one without a key in its namespace only', () => {
    const index = new WindowIndex();
    index.put('a', 'w1', '/maintenance/x');
    index.put('a', 'w1', '/maintenance/y');
    expect(index.ofKey('/maintenance/x')).toEqual([]);
    expect(index.ofKey('/maintenance/y')).toEqual(['a/w1']);
    index.put('a', 'w1', null);
    expect(index.ofKey('/maintenance/y')).toEqual([]);
    expect(index.inNamespace('a')).toEqual(['a/w1']);
  });

  it('forgets a removed window, and a second removal is harmless', () => {
    const index = new WindowIndex();
    index.put('a', 'w1', '/maintenance/x');
    index.remove('a', 'w1');
    index.remove('a', 'w1');
    expect(index.ofKey('/maintenance/x')).toEqual([]);
    expect(index.inNamespace('a')).toEqual([]);
  });
});
