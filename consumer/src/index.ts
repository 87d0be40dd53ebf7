// The public API of @kmaint/consumer. HTTP probes are separate entry points (@kmaint/consumer/http and
// @kmaint/consumer/fastify) so that fastify stays optional.
export {
  createConsumer,
  type Consumer,
  type ConsumerEvents,
  type ConsumerHealth,
  type ConsumerOptions,
  type ConsumerState,
} from './consumer.ts';
export type { ConsumedMessage, HandlerContext, MessageHandler } from './handler.ts';
export {
  GROUP_PROTOCOLS,
  KAFKA_ADAPTERS,
  type ClientChoice,
  type GroupProtocol,
  type KafkaAdapter,
} from './kafka/client.ts';
export type { KafkaConnection } from './kafka/kafkajs.ts';
export { SASL_MECHANISMS, type KafkaSasl, type KafkaTls } from './kafka/security.ts';
export type { EtcdConnection } from './switch/etcd.ts';
export type {
  ComponentHealth,
  Desired,
  DrainResult,
  EngineCounters as ConsumerCounters,
  EngineStats as ConsumerStats,
  PartitionInfo,
  PartitionStats,
  RecordedError,
  SentMessage,
  TopicInfo,
} from './engine/index.ts';
export { KmaintError, isRetriable } from '@kmaint/common';
