import type { Logger } from 'pino';
import type { MessageHandler } from '../handler.ts';
import type { KafkaClient } from '../kafka/client.ts';
import { createKafkajsClient, type KafkaConnection } from '../kafka/kafkajs.ts';
import { etcdMaintenance, type EtcdConnection } from '../switch/etcd.ts';
import { DEFAULT_MAX_WAIT_MS, DrainEngine } from './engine.ts';
import type { Engine, EngineOptions } from './types.ts';

export interface EngineDeps {
  logger: Logger;
  handler: MessageHandler;
  /** A Kafka adapter to use as is (tests bring their own); otherwise a kafkajs one is made. */
  kafka?: KafkaClient;
  /** A ready kafkajs client for the adapter made here; otherwise it connects to `options.kafka.brokers`. */
  kafkaConnection?: KafkaConnection;
  /** How to reach etcd (a ready client stays open); default `options.etcd`. */
  etcd?: EtcdConnection;
}

/** Builds the engine's collaborators from options and hands them over; nothing connects until start(). */
export function createEngine(options: EngineOptions, deps: EngineDeps): Engine {
  const k = options.kafka;
  const c = deps.kafkaConnection;
  const client = c !== undefined && 'client' in c ? c.client : undefined;
  const kafka =
    deps.kafka ??
    createKafkajsClient({
      brokers: k.brokers,
      clientId: k.clientId,
      ...(client === undefined ? {} : { client }),
      sessionTimeoutMs: k.sessionTimeoutMs,
      heartbeatIntervalMs: k.heartbeatIntervalMs,
      maxWaitTimeMs: k.maxWaitTimeMs ?? DEFAULT_MAX_WAIT_MS,
      partitionsConsumedConcurrently: options.processing.maxWorkers,
      logger: deps.logger,
    });
  const etcd = etcdMaintenance(deps.etcd ?? options.etcd, {
    key: options.switchKey,
    unavailable: options.etcdUnavailable,
    memberId: options.memberId,
    logger: deps.logger,
  });
  return new DrainEngine(options, { logger: deps.logger, handler: deps.handler, kafka, ...etcd });
}
