import { describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../env/helpers.ts';

describe('uniqueName', () => {
  it('gives distinct DNS-label-safe names that keep the prefix readable', () => {
    const names = new Set(Array.from({ length: 200 }, () => uniqueName('My_Topic.Name')));
    expect(names.size).toBe(200);
    for (const name of names) {
      expect(name).toMatch(/^my-topic-name-[a-z0-9]+-[0-9a-f]{6}$/);
      expect(name.length).toBeLessThanOrEqual(63);
    }
  });

  it('stays within a DNS label for a long or empty prefix', () => {
    expect(uniqueName('x'.repeat(100)).length).toBeLessThanOrEqual(63);
    expect(uniqueName('***')).toMatch(/^t-/);
  });
});

describe('waitFor', () => {
  it('returns the first truthy value, treating errors as not yet', async () => {
    let calls = 0;
    const value = await waitFor(
      () => {
        calls += 1;
        if (calls === 1) throw new Error('server not up');
        return calls >= 3 ? { calls } : undefined;
      },
      { intervalMs: 1 },
    );
    expect(value).toEqual({ calls: 3 });
  });

  it('fails with the message and the last value seen', async () => {
    await expect(waitFor(() => 0, { timeoutMs: 20, intervalMs: 5, message: 'the count' })).rejects.toThrow(
      /waiting for the count; last value: 0/,
    );
  });

  it('fails with the last error when the condition only threw', async () => {
    await expect(
      waitFor(
        () => {
          throw new Error('connection refused');
        },
        { timeoutMs: 20, intervalMs: 5 },
      ),
    ).rejects.toThrow(/last error: Error: connection refused/);
  });
});
