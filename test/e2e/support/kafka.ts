import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { waitFor } from '../../env/helpers.ts';
import { createTopicsWithLeaders } from '../../env/kafka.ts';

/** The test's own Kafka clients: it produces the load and reads the group's state as an operator would. */
export class KafkaProbe {
  readonly admin: Admin;
  readonly producer: Producer;

  private constructor(admin: Admin, producer: Producer) {
    this.admin = admin;
    this.producer = producer;
  }

  static async connect(brokers: string, clientId: string): Promise<KafkaProbe> {
    const kafka = new Kafka({ clientId, brokers: brokers.split(','), logLevel: logLevel.NOTHING });
    const probe = new KafkaProbe(kafka.admin(), kafka.producer());
    await probe.admin.connect();
    await probe.producer.connect();
    return probe;
  }

  async createTopic(topic: string, numPartitions: number): Promise<void> {
    await createTopicsWithLeaders(this.admin, [{ topic, numPartitions }]);
  }

  /** Produces `count` messages numbered from `first`, keyed round-robin so every partition gets some. */
  async produce(topic: string, first: number, count: number): Promise<void> {
    const batch = 500;
    for (let start = first; start < first + count; start += batch) {
      const n = Math.min(batch, first + count - start);
      await this.producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({
          key: `k-${(start + i) % 64}`,
          value: JSON.stringify({ n: start + i }),
        })),
      });
    }
  }

  async groupMembers(group: string): Promise<{ state: string; members: string[] }> {
    const { groups } = await this.admin.describeGroups([group]);
    const found = groups[0];
    return {
      state: found?.state ?? 'Unknown',
      members: (found?.members ?? []).map((m) => m.memberId).sort(),
    };
  }

  /** Per partition: the group's committed offset (-1: none) and the end offset. */
  async offsets(
    group: string,
    topic: string,
  ): Promise<{ partition: number; committed: number; end: number }[]> {
    const ends = await this.admin.fetchTopicOffsets(topic);
    const [committed] = await this.admin.fetchOffsets({ groupId: group, topics: [topic] });
    return ends
      .map(({ partition, high }) => ({
        partition,
        committed: Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1),
        end: Number(high),
      }))
      .sort((a, b) => a.partition - b.partition);
  }

  /** Waits until the group's committed offsets reach the end offsets on every partition; returns them. */
  allCommitted(
    group: string,
    topic: string,
    timeoutMs = 120_000,
  ): Promise<{ partition: number; committed: number; end: number }[]> {
    return waitFor(
      async () => {
        const now = await this.offsets(group, topic);
        return now.every((p) => p.committed === p.end) ? now : undefined;
      },
      { message: 'committed offsets to reach the end offsets on every partition', timeoutMs },
    );
  }

  /** Waits until the group has `count` members. */
  async membersReach(group: string, count: number, timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => (await this.groupMembers(group)).members.length === count, {
      message: `${count} members in the group ${group}`,
      timeoutMs,
    });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
    await this.admin.disconnect();
  }
}
