import { pino } from 'pino';
import { createConsumer, type Consumer, type MessageHandler } from '@kmaint/consumer';
import { loadConfig } from '../../service/src/config.ts';
import { consumerOptions } from '../../service/src/options.ts';
import type { BenchEnv } from './env.ts';

export interface BenchEngineSetup {
  topic: string;
  groupId: string;
  key: string;
  memberId: string;
  handler: MessageHandler;
  /** Service variables to set (e.g. KAFKA_ENABLE_AUTO_COMMIT), for runs that show what they cost. */
  variables?: Record<string, string>;
}

/**
 * A kmaint consumer as the service runs it: configured through the service's own schema and mapping onto
 * the library, every setting at its default unless `variables` says otherwise; only the servers and names
 * are the bench's.
 */
export function benchEngine(env: Pick<BenchEnv, 'brokers' | 'etcdEndpoints'>, s: BenchEngineSetup): Consumer {
  const config = loadConfig({
    KAFKA_BROKERS: env.brokers.join(','),
    KAFKA_TOPICS: s.topic,
    KAFKA_CONSUMER_GROUP: s.groupId,
    ETCD_ENDPOINTS: env.etcdEndpoints.join(','),
    MAINTENANCE_KEY: s.key,
    MEMBER_ID: s.memberId,
    KAFKA_CLIENT_ID: s.memberId,
    ...s.variables,
  });
  // Warnings only: logging every message would measure pino, not the engine.
  const logger = pino({ level: 'warn' });
  return createConsumer(consumerOptions(config, { handler: s.handler, logger }));
}
