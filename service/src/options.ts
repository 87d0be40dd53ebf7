import type { ServiceConfig } from './config.ts';
import type { EngineOptions } from '@kmaint/consumer';

/** The engine's options from the validated configuration: the one place that maps one onto the other. */
export function engineOptions(config: ServiceConfig): EngineOptions {
  return {
    kafka: {
      brokers: config.kafkaBrokers,
      clientId: config.clientId,
      topics: config.kafkaTopics,
      groupId: config.consumerGroup,
      batchSize: config.batchSize,
      sessionTimeoutMs: config.sessionTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      offsetInitial: config.offsetInitial,
      enableAutoCommit: config.enableAutoCommit,
      autoCommitIntervalMs: config.autoCommitIntervalMs,
    },
    processing: {
      maxWorkers: config.maxWorkers,
      maxProcessingTimeMs: config.maxProcessingTimeMs,
      retryBackoffMs: config.retryBackoffMs,
      maxRetries: config.maxRetries,
      dlqTopicSuffix: config.dlqTopicSuffix,
      orderBy: config.orderBy,
    },
    drainTimeoutMs: config.drainTimeoutMs,
    etcd: {
      endpoints: config.etcdEndpoints,
      caFile: config.etcdCaFile,
      certFile: config.etcdCertFile,
      keyFile: config.etcdKeyFile,
      username: config.etcdUsername,
      password: config.etcdPassword,
    },
    switchKey: config.maintenanceKey,
    etcdUnavailable: config.etcdUnavailable,
    memberId: config.memberId,
    pod: config.podName ?? null,
  };
}
