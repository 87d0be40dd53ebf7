import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createKafkajsClient } from '../../src/kafka/kafkajs.ts';

const client = createKafkajsClient({
  brokers: ['127.0.0.1:1'],
  clientId: 'unit',
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  maxWaitTimeMs: 250,
  partitionsConsumedConcurrently: 1,
  logger: pino({ level: 'silent' }),
});

describe('kafkajs client: which errors mean Kafka is unreachable', () => {
  it('sees a connection failure through the retry wrapper', () => {
    const inner = new kafkajs.KafkaJSConnectionError('Connection error: ECONNREFUSED');
    const wrapped = new kafkajs.KafkaJSNumberOfRetriesExceeded(inner, { retryCount: 5, retryTime: 100 });
    expect(client.isUnreachable(wrapped)).toBe(true);
  });

  it('does not count a refused request or a plain error', () => {
    // kafkajs builds protocol errors from its error-code table entries; the types do not say so.
    const entry = { message: 'message too large', type: 'MESSAGE_TOO_LARGE', code: 10, retriable: false };
    const refused = new kafkajs.KafkaJSProtocolError(entry as unknown as Error);
    expect(client.isUnreachable(refused)).toBe(false);
    expect(client.isUnreachable(new Error('boom'))).toBe(false);
  });
});
