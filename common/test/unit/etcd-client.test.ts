import { KmaintError } from '../../src/errors.ts';
import { describe, expect, it } from 'vitest';
import { createEtcdClient, etcdHosts } from '../../src/etcd-client.ts';

describe('etcd client settings', () => {
  it('gives host:port endpoints a scheme (https with TLS) and keeps URLs as they are', () => {
    expect(etcdHosts(['etcd:2379', 'http://a:1', 'https://b:2'], false)).toEqual([
      'http://etcd:2379',
      'http://a:1',
      'https://b:2',
    ]);
    expect(etcdHosts(['etcd:2379'], true)).toEqual(['https://etcd:2379']);
  });

  it('names the variable when a TLS file cannot be read', () => {
    const attempt = (): unknown =>
      createEtcdClient({ endpoints: ['etcd:2379'], caFile: '/nonexistent/ca.pem', callDeadlineMs: 1000 });
    expect(attempt).toThrow(KmaintError);
    expect(attempt).toThrow(/ETCD_CA_FILE: cannot read \/nonexistent\/ca.pem/);
  });
});
