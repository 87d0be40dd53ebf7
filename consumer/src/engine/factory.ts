import type { Logger } from 'pino';
import type { MessageHandler } from '../handler.ts';
import type { KafkaClient } from '../kafka/client.ts';
import { createKafkajsClient } from '../kafka/kafkajs.ts';
import { etcdMaintenance } from '../switch/etcd.ts';
import { DEFAULT_MAX_WAIT_MS, DrainEngine } from './engine.ts';
import type { Engine, EngineOptions } from './types.ts';

export interface EngineDeps {
  logger: Logger;
  handler: MessageHandler;
  /** A Kafka adapter to use as is (tests bring their own); otherwise a kafkajs one is made. */
  kafka?: KafkaClient;
}

/** Builds the engine's collaborators from options and hands them over; nothing connects until start(). */
export function createEngine(options: EngineOptions, deps: EngineDeps): Engine {
  const k = options.kafka;
  const kafka =
    deps.kafka ??
    createKafkajsClient({
      brokers: k.brokers,
      clientId: k.clientId,
      ...(k.client === undefined ? {} : { client: k.client }),
      tls: k.tls,
      sasl: k.sasl,
      sessionTimeoutMs: k.sessionTimeoutMs,
      heartbeatIntervalMs: k.heartbeatIntervalMs,
      maxWaitTimeMs: k.maxWaitTimeMs ?? DEFAULT_MAX_WAIT_MS,
      partitionsConsumedConcurrently: options.processing.maxWorkers,
      logger: deps.logger,
    });
  const etcd = etcdMaintenance(options.etcd, {
    key: options.switchKey,
    unavailable: options.etcdUnavailable,
    memberId: options.memberId,
    logger: deps.logger,
  });
  return new DrainEngine(options, { logger: deps.logger, handler: deps.handler, kafka, ...etcd });
}
