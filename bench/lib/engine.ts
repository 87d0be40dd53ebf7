import { pino } from 'pino';
import { loadConfig } from '../../service/src/config.ts';
import { createEngine, type Engine, type EngineOptions } from '../../service/src/engine.ts';
import type { MessageHandler } from '../../service/src/handler.ts';
import type { BenchEnv } from './env.ts';

export interface BenchEngineSetup {
  topic: string;
  groupId: string;
  key: string;
  memberId: string;
  handler: MessageHandler;
  /** Settings the service exposes (e.g. ENABLE_AUTO_COMMIT), for runs that show what they cost. */
  kafka?: Partial<EngineOptions['kafka']>;
}

/**
 * A kmaint engine as the service runs it: every setting at the service's own default (read through its
 * config schema with an empty environment), only the servers and names are the bench's.
 */
export function benchEngine(
  env: Pick<BenchEnv, 'brokers' | 'etcdEndpoints'>,
  s: BenchEngineSetup,
): { engine: Engine; options: EngineOptions } {
  const d = loadConfig({});
  const options: EngineOptions = {
    kafka: {
      brokers: env.brokers,
      clientId: s.memberId,
      topics: [s.topic],
      groupId: s.groupId,
      batchSize: d.batchSize,
      sessionTimeoutMs: d.sessionTimeoutMs,
      heartbeatIntervalMs: d.heartbeatIntervalMs,
      offsetInitial: d.offsetInitial,
      enableAutoCommit: d.enableAutoCommit,
      autoCommitIntervalMs: d.autoCommitIntervalMs,
      ...s.kafka,
    },
    processing: {
      maxWorkers: d.maxWorkers,
      maxProcessingTimeMs: d.maxProcessingTimeMs,
      retryBackoffMs: d.retryBackoffMs,
      maxRetries: d.maxRetries,
      dlqTopicSuffix: d.dlqTopicSuffix,
    },
    drainTimeoutMs: d.drainTimeoutMs,
    etcd: { endpoints: env.etcdEndpoints },
    switchKey: s.key,
    etcdUnavailable: d.etcdUnavailable,
    memberId: s.memberId,
    pod: null,
  };
  // Warnings only: logging every message would measure pino, not the engine.
  const logger = pino({ level: 'warn' });
  return { engine: createEngine(options, { logger, handler: s.handler }), options };
}
