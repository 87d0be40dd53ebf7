import { describe, expect, it } from 'vitest';
import { refuseUnsupported } from '../../src/kafka/client.ts';
import { toEngineOptions, validateOptions, type ConsumerOptions } from '../../src/options.ts';

const base: ConsumerOptions = {
  kafka: { brokers: ['k:9092'] },
  groupId: 'orders-ledger',
  topics: ['orders'],
  handler: async () => undefined,
  maintenance: { etcd: { endpoints: ['e:2379'] }, key: '/maintenance/orders' },
};

describe('consumer options', () => {
  it('fill the service defaults in', () => {
    const o = toEngineOptions({ ...base, memberId: 'm-1' });
    expect(o.kafka).toMatchObject({
      brokers: ['k:9092'],
      clientId: 'orders-ledger',
      groupId: 'orders-ledger',
      topics: ['orders'],
      batchSize: 100,
      offsetInitial: 'oldest',
      enableAutoCommit: false,
    });
    expect(o.processing).toEqual({
      maxWorkers: 5,
      maxProcessingTimeMs: 30_000,
      retryBackoffMs: 100,
      maxRetries: 3,
      dlqTopicSuffix: '.dlq',
      orderBy: 'partition',
    });
    expect(o).toMatchObject({
      drainTimeoutMs: 45_000,
      switchKey: '/maintenance/orders',
      etcdUnavailable: 'keep',
      memberId: 'm-1',
      pod: null,
      etcd: { endpoints: ['e:2379'] },
    });
  });

  it('map every option onto the engine', () => {
    const o = toEngineOptions({
      ...base,
      concurrency: 8,
      orderBy: 'key',
      retry: { maxRetries: 1, backoffMs: 5 },
      deadLetter: { topicSuffix: '.dead' },
      drainTimeoutMs: 9_000,
      maxProcessingTimeMs: 4_000,
      commit: { everyMessages: 10, intervalMs: 2_000 },
      fromBeginning: false,
      pod: 'pod-1',
      maintenance: { ...base.maintenance, whenUnavailable: 'maintenance' },
    });
    expect(o.processing).toEqual({
      maxWorkers: 8,
      maxProcessingTimeMs: 4_000,
      retryBackoffMs: 5,
      maxRetries: 1,
      dlqTopicSuffix: '.dead',
      orderBy: 'key',
    });
    expect(o.kafka).toMatchObject({
      batchSize: 10,
      enableAutoCommit: true,
      autoCommitIntervalMs: 2_000,
      offsetInitial: 'newest',
    });
    expect(o).toMatchObject({ drainTimeoutMs: 9_000, pod: 'pod-1', etcdUnavailable: 'maintenance' });
  });

  it.each([
    [{ handler: undefined }, /handler must be a function/],
    [{ groupId: '' }, /groupId must be a non-empty string/],
    [{ topics: [] }, /topics must be a non-empty list/],
    [{ kafka: { brokers: [] } }, /kafka needs brokers/],
    [{ maintenance: { etcd: { endpoints: ['e:2379'] }, key: 'maintenance/x' } }, /maintenance.key must be/],
    [{ maintenance: { etcd: { endpoints: [] }, key: '/m/x' } }, /maintenance.etcd needs endpoints/],
    [{ concurrency: 0 }, /concurrency must be a positive integer, got 0/],
    [{ concurrency: 1.5 }, /concurrency must be a positive integer/],
    [{ drainTimeoutMs: -1 }, /drainTimeoutMs must be a positive number/],
    [{ retry: { maxRetries: -1 } }, /retry.maxRetries must be an integer ≥ 0/],
    [{ orderBy: 'offset' }, /orderBy must be 'partition' or 'key'/],
  ])('reject %o with a clear message', (bad, message) => {
    const attempt = () => validateOptions({ ...base, ...bad } as unknown as ConsumerOptions);
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));
  });

  it('accept ready clients instead of connection settings', () => {
    const client = {} as never;
    expect(() => validateOptions({ ...base, kafka: { client } })).not.toThrow();
    expect(() => validateOptions({ ...base, maintenance: { etcd: { client }, key: '/m/x' } })).not.toThrow();
  });
});

describe('the Kafka client choice', () => {
  const build = (kafka: Partial<ConsumerOptions['kafka']>) => () => {
    const o = { ...base, kafka: { ...base.kafka, ...kafka } as ConsumerOptions['kafka'] };
    validateOptions(o);
    refuseUnsupported(toEngineOptions(o).kafka);
  };

  it('passes the adapter, the group protocol and the instance id on to the engine', () => {
    const o = toEngineOptions({
      ...base,
      kafka: {
        brokers: ['k:9092'],
        adapter: 'platformatic',
        groupProtocol: 'classic',
        groupInstanceId: 'pod-0',
      },
    });
    expect(o.kafka).toMatchObject({
      adapter: 'platformatic',
      groupProtocol: 'classic',
      groupInstanceId: 'pod-0',
    });
    expect(build({ adapter: 'platformatic', groupProtocol: 'consumer' })).not.toThrow();
    expect(build({ adapter: 'platformatic', groupInstanceId: 'pod-0' })).not.toThrow();
  });

  it('refuses what kafkajs cannot do, by name', () => {
    expect(build({ groupProtocol: 'consumer' })).toThrow(/KIP-848\) needs the platformatic client/);
    expect(build({ adapter: 'kafkajs', groupInstanceId: 'pod-0' })).toThrow(
      /static membership .* needs the platformatic client/,
    );
  });

  it('refuses static membership with KIP-848 on platformatic, and unknown values', () => {
    expect(build({ adapter: 'platformatic', groupProtocol: 'consumer', groupInstanceId: 'pod-0' })).toThrow(
      /member epoch -1, which removes a static member/,
    );
    expect(build({ adapter: 'rdkafka' as 'kafkajs' })).toThrow(
      /kafka.adapter must be one of kafkajs, platformatic/,
    );
    expect(build({ groupProtocol: 'share' as 'classic' })).toThrow(/kafka.groupProtocol must be one of/);
    expect(build({ adapter: 'platformatic', groupInstanceId: '' })).toThrow(/kafka.groupInstanceId must be/);
  });
});
