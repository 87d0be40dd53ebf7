// Type-checked against the installed package's .d.ts: the public API as an application's tsc sees it.
import {
  KmaintError,
  createConsumer,
  type ConsumedMessage,
  type Consumer,
  type ConsumerHealth,
  type ConsumerStats,
  type MessageHandler,
} from '@kmaint/consumer';
import { probeHandler } from '@kmaint/consumer/http';

const handler: MessageHandler = async (message: ConsumedMessage, { signal }) => {
  signal.throwIfAborted();
  if (message.value === null) throw new KmaintError('EMPTY', 'no value');
};

export const consumer: Consumer = createConsumer({
  kafka: { brokers: ['localhost:9092'], clientId: 'orders' },
  groupId: 'orders-ledger',
  topics: ['orders'],
  handler,
  maintenance: { etcd: { endpoints: ['localhost:2379'] }, key: '/maintenance/orders' },
  concurrency: 4,
  orderBy: 'partition',
  retry: { maxRetries: 3, backoffMs: 1000 },
  deadLetter: { topicSuffix: '.dlq' },
  drainTimeoutMs: 30000,
});
consumer.on('transition', ({ from, to, durationMs }) => void [from, to, durationMs.toFixed()]);
export const health: ConsumerHealth = consumer.health();
export const stats: Promise<ConsumerStats> = consumer.stats();
export const probes = probeHandler(consumer);
