import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName, waitFor } from '../../../../test/env/helpers.ts';
import { Cluster } from './cluster.ts';
import { ServiceProcess } from './service-process.ts';

/**
 * A configured topic nobody created. The test broker has auto.create.topics.enable=true, but the consumer
 * asks for metadata without auto-creation, so the topic stays missing until someone creates it: exactly
 * what a broker without auto-creation shows.
 */

const cluster = new Cluster();
const name = uniqueName('api-missing');
const present = `${name}-present`;
const missing = `${name}-missing`;
let service: ServiceProcess;

beforeAll(async () => {
  await cluster.connect();
  await cluster.ensureTopics([present]);
  service = await ServiceProcess.start({
    KAFKA_TOPICS: `${present},${missing}`,
    KAFKA_CONSUMER_GROUP: name,
    MAINTENANCE_KEY: `/maintenance/${name}`,
    MEMBER_ID: name,
  });
});

afterAll(async () => {
  await service?.kill();
  await cluster.close();
});

const joinFailures = async (): Promise<number> =>
  (await service.get('/messages/stats')).body.kafka.errors.filter(
    (e: { code: string }) => e.code === 'KAFKA_JOIN_FAILED',
  ).length;

describe('a configured topic that does not exist', () => {
  it('is named in /health and warned about once, however often the join is retried', async () => {
    await waitFor(
      async () => (await service.get('/health')).body.components.kafka.missingTopics !== undefined,
      {
        timeoutMs: 60_000,
        message: '/health to name the missing topic',
      },
    );
    const kafka = (await service.get('/health')).body.components.kafka;
    expect(kafka.healthy).toBe(false);
    expect(kafka.missingTopics).toEqual([missing]);
    expect(kafka.detail).toContain(missing);
    expect(kafka.detail).not.toContain(present);

    await waitFor(async () => (await joinFailures()) >= 2, {
      timeoutMs: 90_000,
      message: 'the join to be retried',
    });
    const aboutTopics = service.logs.filter(
      (l) => l.level === 'warn' && l.msg.includes('topics do not exist'),
    );
    expect(aboutTopics).toHaveLength(1);
    expect(aboutTopics[0]?.['missingTopics']).toEqual([missing]);
  });

  it('joins once the topic is created, and /health no longer names it', async () => {
    await cluster.ensureTopics([missing]);
    await waitFor(
      async () => {
        const kafka = (await service.get('/health')).body.components.kafka;
        return kafka.healthy === true && kafka.missingTopics === undefined;
      },
      { timeoutMs: 60_000, message: 'Kafka healthy with every topic present' },
    );
    await cluster.produce(missing, 10);
    await waitFor(() => cluster.allCommitted(name, missing), {
      timeoutMs: 60_000,
      message: 'the new topic consumed and committed',
    });
  });
});
