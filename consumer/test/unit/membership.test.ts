import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { EngineEvents } from '../../src/core/events.ts';
import { Health } from '../../src/engine/health.ts';
import { GroupMembership } from '../../src/engine/membership.ts';
import { Statistics } from '../../src/engine/statistics.ts';
import type { Batch, ConsumeOptions, ConsumerSession, KafkaClient } from '../../src/kafka/client.ts';
import { Processor } from '../../src/kafka/processor.ts';

const logger = pino({ level: 'silent' });

/** A Kafka client whose consumers join at once and remember what they were told to call. */
function fakeKafka(): { kafka: KafkaClient; sessions: ConsumeOptions[] } {
  const sessions: ConsumeOptions[] = [];
  const kafka = {
    async consume(opts: ConsumeOptions): Promise<ConsumerSession> {
      sessions.push(opts);
      opts.onAssigned({ t: [0] }, false);
      return {
        dead: new Promise<Error>(() => undefined),
        pause: () => undefined,
        resume: () => undefined,
        leave: async () => undefined,
      };
    },
    missingTopics: async () => [],
  } as unknown as KafkaClient;
  return { kafka, sessions };
}

function batch(offset: number): Batch & { commits: string[] } {
  const commits: string[] = [];
  const message = {
    topic: 't',
    partition: 0,
    offset: String(offset),
    key: null,
    value: Buffer.from('v'),
    headers: {},
    timestamp: '0',
  };
  return {
    topic: 't',
    partition: 0,
    offsets: [message.offset],
    message: () => message,
    key: () => null,
    nextOffset: String(offset + 1),
    heartbeat: async () => undefined,
    isRevocation: () => false,
    commit: async (o) => void commits.push(o),
    seekLocal: () => undefined,
    commits,
  };
}

describe('GroupMembership', () => {
  it('processing generation per session: a late assignment or batch of a consumer whose session ended does not touch the new session', async () => {
    const events = new EventEmitter<EngineEvents>();
    const gate = Promise.withResolvers<undefined>();
    const handled: string[] = [];
    const processor = new Processor(
      {
        maxWorkers: 2,
        maxProcessingTimeMs: 10_000,
        retryBackoffMs: 1,
        maxRetries: 0,
        dlqTopicSuffix: '.dlq',
        orderBy: 'partition',
        commitEveryMessages: 1,
        autoCommitIntervalMs: null,
        heartbeatIntervalMs: 1_000,
      },
      {
        handler: async (m) => {
          handled.push(m.offset);
          await gate.promise;
        },
        produce: async () => ({ topic: 't', partition: 0, offset: '0' }),
        logger,
        onReceived: () => undefined,
        onMessage: () => undefined,
        onError: () => undefined,
      },
    );
    const { kafka, sessions } = fakeKafka();
    const membership = new GroupMembership(
      {
        kafka,
        processor,
        stats: new Statistics(events),
        health: new Health(events, logger),
        logger,
      },
      {
        groupId: 'g',
        topics: ['t'],
        fromBeginning: true,
        onLost: () => undefined,
        givesUp: () => false,
        onJoinFailed: () => undefined,
      },
    );
    await membership.join();
    await membership.leave();
    await membership.join();
    const [old, current] = sessions as [ConsumeOptions, ConsumeOptions];

    const mine = batch(5);
    const running = current.onBatch(mine);
    // The consumer of the ended session is still winding down (a leave that outlived its bound): it
    // reports an assignment and hands over a batch.
    old.onAssigned({ t: [0] }, false);
    const stale = batch(9);
    const staleRun = old.onBatch(stale);
    gate.resolve(undefined);
    await Promise.all([running, staleRun]);

    expect(mine.commits, "the new session's batch could not commit").toEqual(['6']);
    expect(handled, 'a batch of the ended session was processed').toEqual(['5']);
    expect(stale.commits).toEqual([]);
  });
});
