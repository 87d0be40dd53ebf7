import { KmaintError } from '../../src/errors.ts';
import { describe, expect, it } from 'vitest';
import { createEtcdClient, etcdHosts, etcdSettingsProblem } from '../../src/etcd-client.ts';

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

describe('etcdSettingsProblem', () => {
  // What etcd3 (gRPC) threw against the test etcds with client-certificate TLS and with auth.
  const grpc = (text: string) => new Error(text);
  const WRONG_CA = grpc(
    '14 UNAVAILABLE: No connection established. Last error: Error: unable to verify the first certificate; ' +
      'if the root CA is installed locally, try running Node.js with --use-system-ca. Resolution note: ',
  );
  const NO_CLIENT_CERT = grpc(
    '14 UNAVAILABLE: No connection established. Last error: 404D4C079C7F0000:error:0A00045C:SSL ' +
      'routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/openssl/ssl/record/' +
      'rec_layer_s3.c:918:SSL alert number 116\n (2026-12-02T05:25:02.678Z). Resolution note: ',
  );
  const WRONG_PASSWORD = grpc(
    '3 INVALID_ARGUMENT: etcdserver: authentication failed, invalid user ID or password',
  );
  const key = '/maintenance/orders';

  it('names the CA that did not sign etcd’s certificate', () => {
    const problem = etcdSettingsProblem(WRONG_CA, { key, caFile: '/etc/ca.crt', certFile: '/etc/tls.crt' });
    expect(problem?.code).toBe('ETCD_TLS');
    expect(problem?.message).toBe(
      "etcd's certificate is not trusted: it is not signed by the CA in /etc/ca.crt (ETCD_CA_FILE): " +
        'unable to verify the first certificate',
    );
  });

  it('says etcd wants a client certificate when none was given', () => {
    const problem = etcdSettingsProblem(NO_CLIENT_CERT, { key, caFile: '/etc/ca.crt' });
    expect(problem?.code).toBe('ETCD_TLS');
    expect(problem?.message).toMatch(
      /^etcd wants a client certificate \(ETCD_CERT_FILE, ETCD_KEY_FILE\): .*certificate required/,
    );
  });

  it('names the user whose password etcd refused, never the password', () => {
    const problem = etcdSettingsProblem(WRONG_PASSWORD, { key, username: 'kmaint' });
    expect(problem?.code).toBe('ETCD_AUTH');
    expect(problem?.message).toBe(
      'etcd refused the user "kmaint" and its password (ETCD_USERNAME, ETCD_PASSWORD): ' +
        'etcdserver: authentication failed, invalid user ID or password',
    );
    expect(problem?.retriable).toBe(false);
  });

  it('names the user and the key its roles keep it from, and what it tried', () => {
    const denied = grpc('7 PERMISSION_DENIED: etcdserver: permission denied');
    const read = etcdSettingsProblem(denied, { key, username: 'orders' });
    expect(read?.code).toBe('ETCD_PERMISSION');
    expect(read?.retriable).toBe(false);
    expect(read?.message).toBe(
      `the etcd user "orders" may not read ${key} (ETCD_USERNAME; the roles each part needs: ` +
        'docs/operations.md, "etcd roles"): etcdserver: permission denied',
    );
    const write = etcdSettingsProblem(denied, {
      key: `${key}/members/o-0`,
      username: 'orders',
      access: 'write',
    });
    expect(write?.message).toMatch(
      /^the etcd user "orders" may not write \/maintenance\/orders\/members\/o-0 /,
    );
  });

  it('leaves an etcd that is down to the retries', () => {
    const down = grpc(
      '14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:2379',
    );
    expect(etcdSettingsProblem(down, { key })).toBeUndefined();
    expect(etcdSettingsProblem(grpc('4 DEADLINE_EXCEEDED: Deadline exceeded'), { key })).toBeUndefined();
  });
});
