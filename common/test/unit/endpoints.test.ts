import { describe, expect, it } from 'vitest';
import { parseEtcdEndpoint, parseHostPort } from '../../src/index.ts';

describe('endpoints', () => {
  it.each([
    ['etcd:2379', false, 'http://etcd:2379'],
    ['etcd:2379', true, 'https://etcd:2379'],
    ['localhost:2401', false, 'http://localhost:2401'],
    ['[::1]:2379', false, 'http://[::1]:2379'],
    ['http://10.0.0.1:2379', true, 'http://10.0.0.1:2379'],
    ['https://etcd.example', false, 'https://etcd.example:2379'],
  ])('reads etcd endpoint %j (tls %s) as %j', (raw, tls, url) => {
    expect(parseEtcdEndpoint(raw, tls)).toEqual({ ok: true, value: url });
  });

  it.each([
    ['etcd', /neither host:port nor/],
    ['etcd:99999', /neither host:port nor/],
    ['grpc://etcd:2379', /http:\/\/ or https:\/\//],
    ['http://etcd:2379/v3', /without path/],
    ['http://user:pw@etcd:2379', /without path, query or credentials/],
  ])('refuses etcd endpoint %j', (raw, reason) => {
    const parsed = parseEtcdEndpoint(raw, false);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(reason);
  });

  it('reads the GoMaint broker form and names what is wrong', () => {
    expect(parseHostPort('kafka:29092')).toEqual({ ok: true, value: 'kafka:29092' });
    expect(parseHostPort('kafka')).toEqual({ ok: false, error: '"kafka" is not host:port' });
    expect(parseHostPort('kafka:0')).toEqual({ ok: false, error: '"kafka:0" has port 0, outside 1-65535' });
  });
});
