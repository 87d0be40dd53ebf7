import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { pino } from 'pino';
import { toEngineOptions } from '../../../consumer/src/options.ts';
import type { ServiceConfig } from '../../src/config.ts';
import { consumerOptions } from '../../src/options.ts';

const deps = { handler: async () => undefined, logger: pino({ level: 'silent' }) };

/** What the engine gets from the service's configuration, through the library's options. */
const engineOptions = (config: ServiceConfig) => toEngineOptions(consumerOptions(config, deps));

describe('consumerOptions', () => {
  it('maps the configuration onto the library and the engine, durations in milliseconds', () => {
    const o = engineOptions(
      loadConfig({
        KAFKA_BROKERS: 'k1:9092,k2:9092',
        KAFKA_TOPICS: 'a,b',
        KAFKA_CONSUMER_GROUP: 'g',
        ETCD_ENDPOINTS: 'e:2379',
        MAINTENANCE_KEY: '/maintenance/x',
        MEMBER_ID: 'm-1',
        POD_NAME: 'pod-1',
        DRAIN_TIMEOUT: '2s',
        MAX_PROCESSING_TIME: '1m',
        KAFKA_ENABLE_AUTO_COMMIT: 'true',
        MAX_WORKERS: '7',
        ETCD_UNAVAILABLE: 'maintenance',
      }),
    );
    expect(o.kafka).toMatchObject({
      brokers: ['k1:9092', 'k2:9092'],
      topics: ['a', 'b'],
      groupId: 'g',
      enableAutoCommit: true,
    });
    expect(o.processing).toMatchObject({ maxWorkers: 7, maxProcessingTimeMs: 60_000, orderBy: 'partition' });
    expect(o).toMatchObject({
      drainTimeoutMs: 2_000,
      switchKey: '/maintenance/x',
      memberId: 'm-1',
      pod: 'pod-1',
      etcdUnavailable: 'maintenance',
      etcd: { endpoints: ['http://e:2379'] },
    });
  });

  it('passes Kafka TLS files and SASL to the library', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-options-'));
    const [ca, cert, key] = ['ca.pem', 'cert.pem', 'key.pem'].map((f) => join(dir, f));
    for (const f of [ca, cert, key]) writeFileSync(f ?? '', '');
    const secured = consumerOptions(
      loadConfig({
        KAFKA_CA_FILE: ca,
        KAFKA_CERT_FILE: cert,
        KAFKA_KEY_FILE: key,
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'p',
      }),
      deps,
    );
    expect(secured.kafka).toMatchObject({
      tls: { caFile: ca, certFile: cert, keyFile: key },
      sasl: { mechanism: 'plain', username: 'u', password: 'p' },
    });
    expect(engineOptions(loadConfig({ KAFKA_CA_FILE: ca })).kafka.tls).toEqual({ caFile: ca });
    expect(consumerOptions(loadConfig({ KAFKA_TLS: 'true' }), deps).kafka).toMatchObject({ tls: true });
    const plain = consumerOptions(loadConfig({}), deps).kafka;
    expect('tls' in plain || 'sasl' in plain).toBe(false);
  });

  it('passes ORDER_BY to the processing options', () => {
    expect(engineOptions(loadConfig({ ORDER_BY: 'key' })).processing.orderBy).toBe('key');
    expect(engineOptions(loadConfig({ ORDER_BY: 'Partition' })).processing.orderBy).toBe('partition');
  });
});
