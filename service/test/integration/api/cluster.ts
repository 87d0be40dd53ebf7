import { Etcd3 } from 'etcd3';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { inject } from 'vitest';
import { createTopicsWithLeaders } from '../../../../test/env/kafka.ts';

/** Clients of the test environment's real Kafka and etcd, for arranging and checking from the outside. */
export class Cluster {
  readonly kafka = new Kafka({
    clientId: 'api-tests',
    brokers: [inject('kafkaBrokers')],
    logLevel: logLevel.ERROR,
  });
  readonly etcd = new Etcd3({ hosts: inject('etcdEndpoints') });
  readonly admin: Admin = this.kafka.admin();
  readonly producer: Producer = this.kafka.producer();

  async connect(): Promise<void> {
    await this.admin.connect();
    await this.producer.connect();
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
    await this.admin.disconnect();
    this.etcd.close();
  }

  /** Creates the topics unless they exist (GoMaint's topic names are shared by every test of a run). */
  async ensureTopics(topics: string[], numPartitions = 3): Promise<void> {
    await createTopicsWithLeaders(
      this.admin,
      topics.map((topic) => ({ topic, numPartitions })),
    );
  }

  async produce(topic: string, count: number, prefix = 'm'): Promise<void> {
    for (let i = 0; i < count; i += 500) {
      const batch = Array.from({ length: Math.min(500, count - i) }, (_, j) => ({
        key: `k${(i + j) % 31}`,
        value: `${prefix}-${i + j}`,
      }));
      await this.producer.send({ topic, messages: batch });
    }
  }

  async switchTo(key: string, value: string): Promise<void> {
    await this.etcd.put(key).value(value);
  }

  /** Per partition: the group's committed offset and the end offset (both as numbers; -1: none). */
  async offsets(
    groupId: string,
    topic: string,
  ): Promise<{ partition: number; committed: number; end: number }[]> {
    const ends = await this.admin.fetchTopicOffsets(topic);
    const [committed] = await this.admin.fetchOffsets({ groupId, topics: [topic] });
    return ends
      .map((e) => ({
        partition: e.partition,
        end: Number(e.high),
        committed: Number(committed?.partitions.find((p) => p.partition === e.partition)?.offset ?? -1),
      }))
      .sort((a, b) => a.partition - b.partition);
  }

  async allCommitted(groupId: string, topic: string): Promise<boolean> {
    return (await this.offsets(groupId, topic)).every((p) => Math.max(p.committed, 0) === p.end);
  }
}
