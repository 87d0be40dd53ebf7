import type { ConsumerOptions, KafkaSasl, KafkaTls, MessageHandler } from '@kmaint/consumer';
import { ok } from '@kmaint/common';
import { readSendTokenFile, type ServiceConfig } from './config.ts';
import type { SendAccess } from './http/send-access.ts';
import type { Logger } from './log.ts';

/** The library's options from the validated configuration: the one place that maps one onto the other. */
export function consumerOptions(
  config: ServiceConfig,
  deps: { handler: MessageHandler; logger: Logger },
): ConsumerOptions {
  return {
    kafka: {
      brokers: config.kafkaBrokers,
      clientId: config.clientId,
      sessionTimeoutMs: config.sessionTimeoutMs,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      adapter: config.kafkaClient,
      groupProtocol: config.groupProtocol,
      ...(config.groupInstanceId === undefined ? {} : { groupInstanceId: config.groupInstanceId }),
      ...kafkaSecurity(config),
    },
    groupId: config.consumerGroup,
    topics: config.kafkaTopics,
    handler: deps.handler,
    maintenance: {
      etcd: {
        endpoints: config.etcdEndpoints,
        caFile: config.etcdCaFile,
        certFile: config.etcdCertFile,
        keyFile: config.etcdKeyFile,
        username: config.etcdUsername,
        password: config.etcdPassword,
      },
      key: config.maintenanceKey,
      whenUnavailable: config.etcdUnavailable,
    },
    concurrency: config.maxWorkers,
    orderBy: config.orderBy,
    retry: { maxRetries: config.maxRetries, backoffMs: config.retryBackoffMs },
    deadLetter: { topicSuffix: config.dlqTopicSuffix },
    drainTimeoutMs: config.drainTimeoutMs,
    maxProcessingTimeMs: config.maxProcessingTimeMs,
    commit: {
      everyMessages: config.batchSize,
      ...(config.enableAutoCommit ? { intervalMs: config.autoCommitIntervalMs } : {}),
    },
    fromBeginning: config.offsetInitial === 'oldest',
    memberId: config.memberId,
    ...(config.podName === undefined ? {} : { pod: config.podName }),
    logger: deps.logger,
  };
}

/** TLS and SASL to the brokers, when configured (the configuration has checked the pairs are complete). */
function kafkaSecurity(config: ServiceConfig): { tls?: KafkaTls; sasl?: KafkaSasl } {
  const files = {
    ...(config.kafkaCaFile === undefined ? {} : { caFile: config.kafkaCaFile }),
    ...(config.kafkaCertFile === undefined ? {} : { certFile: config.kafkaCertFile }),
    ...(config.kafkaKeyFile === undefined ? {} : { keyFile: config.kafkaKeyFile }),
  };
  const tls: KafkaTls | undefined = config.kafkaTls
    ? Object.keys(files).length > 0
      ? files
      : true
    : undefined;
  const sasl: KafkaSasl | undefined =
    config.kafkaSaslMechanism === undefined
      ? undefined
      : {
          mechanism: config.kafkaSaslMechanism,
          username: config.kafkaSaslUsername ?? '',
          password: config.kafkaSaslPassword ?? '',
        };
  return { ...(tls === undefined ? {} : { tls }), ...(sasl === undefined ? {} : { sasl }) };
}

/** Who may produce through POST /messages/send (the configuration has checked the token is there). */
export function sendAccess(config: ServiceConfig): SendAccess {
  if (config.messagesSend !== 'token') return { mode: config.messagesSend };
  const file = config.messagesSendTokenFile;
  if (file !== undefined) return { mode: 'token', token: () => readSendTokenFile(file) };
  const token = ok(config.messagesSendToken ?? '');
  return { mode: 'token', token: () => token };
}
