import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, preferredPort } from '../../env/ports.ts';

describe('freePort', () => {
  it('never hands out the same port twice in one process, though each probe is closed at once', async () => {
    const ports = [];
    for (let i = 0; i < 200; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });

  it('does not hand out a port that preferredPort gave to a caller', async () => {
    // A port never handed out: one a plain listen(0) got and closed.
    const fresh = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    expect(await preferredPort(fresh)).toBe(fresh);
    const later = [];
    for (let i = 0; i < 100; i++) later.push(await freePort());
    expect(later).not.toContain(fresh);
  });

  it('gives another port when the preferred one is bound', async () => {
    const server = createServer();
    const bound = await new Promise<number>((resolve) =>
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      }),
    );
    try {
      expect(await preferredPort(bound)).not.toBe(bound);
    } finally {
      server.close();
    }
  });
});
