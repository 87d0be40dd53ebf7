import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

describe('loadConfig', () => {
  it('has the service’s defaults and names', () => {
    const config = loadConfig({ POD_NAME: 'orders-7d9f' });
    expect(config).toMatchObject({
      etcdEndpoints: ['http://etcd:2379'],
      maintenanceKey: '/maintenance/kafka-service',
      memberId: 'orders-7d9f',
      podName: 'orders-7d9f',
      port: 8089,
      appTimeoutMs: 30_000,
      drainTimeoutMs: 45_000,
      etcdUnavailable: 'keep',
    });
  });

  it('names every bad variable at once', () => {
    const load = () =>
      loadConfig({
        AGENT_PORT: '70000',
        MAINTENANCE_KEY: 'maintenance',
        APP_TIMEOUT: '10ms',
        ETCD_USERNAME: 'u',
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      /MAINTENANCE_KEY[\s\S]*AGENT_PORT: must be a port[\s\S]*APP_TIMEOUT[\s\S]*ETCD_USERNAME/,
    );
  });
});
