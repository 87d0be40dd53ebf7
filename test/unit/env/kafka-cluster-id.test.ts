import { describe, expect, it } from 'vitest';
import { randomClusterId } from '../../env/kafka.ts';

describe('randomClusterId', () => {
  it('is a 16-byte URL-safe base64 id that StorageTool never mistakes for an option', () => {
    // 5,000 draws would hit a leading '-' about 78 times if it were not excluded.
    for (let i = 0; i < 5_000; i++) {
      const id = randomClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
      expect(Buffer.from(id, 'base64url')).toHaveLength(16);
    }
  });
});
