import type { Logger } from 'pino';
import type { MessageHandler } from '../handler.ts';
import { refuseUnsupported, type KafkaClient } from '../kafka/client.ts';
import { createKafkajsClient } from '../kafka/kafkajs.ts';
import { createPlatformaticClient } from '../kafka/platformatic.ts';
import { etcdMaintenance } from '../switch/etcd.ts';
import { DEFAULT_MAX_WAIT_MS, DrainEngine } from './engine.ts';
import type { Engine, EngineOptions } from './types.ts';

export interface EngineDeps {
  logger: Logger;
  handler: MessageHandler;
  /** A Kafka adapter to use as is (tests bring their own); otherwise the one `kafka.adapter` names. */
  kafka?: KafkaClient;
}

/** Builds the engine's collaborators from options and hands them over; nothing connects until start(). */
export function createEngine(options: EngineOptions, deps: EngineDeps): Engine {
  const k = options.kafka;
  refuseUnsupported(k);
  const maxWaitTimeMs = k.maxWaitTimeMs ?? DEFAULT_MAX_WAIT_MS;
  const connection = {
    brokers: k.brokers,
    clientId: k.clientId,
    tls: k.tls,
    sasl: k.sasl,
    sessionTimeoutMs: k.sessionTimeoutMs,
    heartbeatIntervalMs: k.heartbeatIntervalMs,
    maxWaitTimeMs,
    partitionsConsumedConcurrently: options.processing.maxWorkers,
    logger: deps.logger,
  };
  const kafka =
    deps.kafka ??
    (k.adapter === 'platformatic'
      ? createPlatformaticClient({
          ...connection,
          groupProtocol: k.groupProtocol ?? 'classic',
          groupInstanceId: k.groupInstanceId,
        })
      : createKafkajsClient({ ...connection, ...(k.client === undefined ? {} : { client: k.client }) }));
  const etcd = etcdMaintenance(options.etcd, {
    key: options.switchKey,
    unavailable: options.etcdUnavailable,
    memberId: options.memberId,
    logger: deps.logger,
  });
  return new DrainEngine(options, { logger: deps.logger, handler: deps.handler, kafka, ...etcd });
}
