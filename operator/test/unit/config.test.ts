import { KmaintError } from '@kmaint/common';
import { describe, expect, it } from 'vitest';
import { helpText, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('uses the agreed defaults', () => {
    const c = loadConfig({ POD_NAME: 'op-0' });
    expect(c).toMatchObject({
      httpPort: 8080,
      etcd: { hosts: ['http://etcd:2379'], caFile: null, username: null },
      kubeconfig: null,
      watchNamespace: null,
      leaderElection: true,
      leaseNamespace: 'default',
      leaseName: 'kmaint-operator',
      identity: 'op-0',
      leaseDurationMs: 15_000,
      resyncPeriodMs: 300_000,
      workers: 32,
      logLevel: 'info',
    });
  });

  it('reads endpoints as host:port or URLs, https when TLS files are given', () => {
    expect(loadConfig({ ETCD_ENDPOINTS: 'a:2379, http://b:2379' }).etcd.hosts).toEqual([
      'http://a:2379',
      'http://b:2379',
    ]);
    expect(
      loadConfig({ ETCD_ENDPOINTS: 'a:2379', ETCD_CA_FILE: '/ca', ETCD_CERT_FILE: '/c', ETCD_KEY_FILE: '/k' })
        .etcd.hosts,
    ).toEqual(['https://a:2379']);
  });

  it('takes the lease namespace from POD_NAMESPACE unless given; empty means unset', () => {
    expect(loadConfig({ POD_NAMESPACE: 'kmaint' }).leaseNamespace).toBe('kmaint');
    expect(loadConfig({ POD_NAMESPACE: 'kmaint', LEADER_ELECTION_NAMESPACE: 'x' }).leaseNamespace).toBe('x');
    expect(loadConfig({ WATCH_NAMESPACE: '' }).watchNamespace).toBeNull();
  });

  it('reports every bad variable at once', () => {
    let error: unknown;
    try {
      loadConfig({
        HTTP_PORT: 'http',
        LEASE_DURATION: 'soon',
        ETCD_ENDPOINTS: 'not an endpoint',
        LEADER_ELECTION: 'maybe',
        ETCD_CERT_FILE: '/c',
        RECONCILE_WORKERS: '0',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(KmaintError);
    const message = (error as KmaintError).message;
    for (const name of [
      'HTTP_PORT',
      'LEASE_DURATION',
      'ETCD_ENDPOINTS',
      'LEADER_ELECTION',
      'ETCD_CERT_FILE and ETCD_KEY_FILE',
      'RECONCILE_WORKERS',
    ]) {
      expect(message).toContain(name);
    }
    expect((error as KmaintError).code).toBe('CONFIG_INVALID');
  });
});

describe('helpText', () => {
  it('lists every variable the operator reads, with the defaults loadConfig uses', () => {
    const help = helpText();
    const defaults = loadConfig({});
    for (const [name, shown] of [
      ['HTTP_PORT', String(defaults.httpPort)],
      ['LEADER_ELECTION', String(defaults.leaderElection)],
      ['LEADER_ELECTION_LEASE_NAME', defaults.leaseName],
      ['LOG_LEVEL', defaults.logLevel],
      ['LEASE_DURATION', '15s'],
      ['RESYNC_PERIOD', '5m'],
      ['RECONCILE_WORKERS', String(defaults.workers)],
      ['ETCD_ENDPOINTS', 'etcd:2379'],
    ]) {
      expect(help).toMatch(new RegExp(`^  ${name} +${shown} `, 'm'));
    }
    expect(defaults.leaseDurationMs).toBe(15_000);
    expect(defaults.resyncPeriodMs).toBe(300_000);
    for (const name of ['KUBECONFIG', 'WATCH_NAMESPACE', 'ETCD_CA_FILE', 'POD_NAME']) {
      expect(help).toMatch(new RegExp(`^  ${name} +\\(unset\\)`, 'm'));
    }
  });
});
