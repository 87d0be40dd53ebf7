import { createRequire } from 'node:module';
import kafkajs, { type Cluster, type Logger } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { refusesToRejoin } from '../../src/kafka/kafkajs.ts';

// What roundRobin reads of the cluster: the partitions of each topic.
const cluster = {
  findTopicPartitionMetadata: () => [{ partitionId: 0 }, { partitionId: 1 }],
} as unknown as Cluster;
const config = { cluster, groupId: 'g', logger: {} as Logger };

describe('kafkajs client: a member that is leaving does not join again', () => {
  it("speaks kafkajs' round robin on the wire while it is not leaving", async () => {
    const ours = refusesToRejoin(() => false)(config);
    const theirs = kafkajs.PartitionAssigners.roundRobin(config);
    expect(ours.name).toBe('RoundRobinAssigner');
    expect(ours.version).toBe(theirs.version);
    expect(ours.protocol({ topics: ['t'] })).toEqual(theirs.protocol({ topics: ['t'] }));
    const group = {
      members: [
        { memberId: 'a', memberMetadata: Buffer.alloc(0) },
        { memberId: 'b', memberMetadata: Buffer.alloc(0) },
      ],
      topics: ['t'],
      userData: Buffer.alloc(0),
    };
    expect(await ours.assign(group)).toEqual(await theirs.assign(group));
  });

  it('refuses the join with a retriable error once it is leaving', () => {
    let leaving = false;
    const ours = refusesToRejoin(() => leaving)(config);
    expect(() => ours.protocol({ topics: ['t'] })).not.toThrow();
    leaving = true;
    let thrown: unknown = null;
    try {
      ours.protocol({ topics: ['t'] });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(kafkajs.KafkaJSError);
    expect((thrown as { retriable?: boolean }).retriable).toBe(true);
  });

  it('runs on the kafkajs it was checked against', () => {
    // The leaving paths (the batch handler's retriable error, the refused join) rely on how kafkajs
    // 2.2.4's runner retries and stops (docs/library.md, "Leaving the group"): a new kafkajs has them
    // checked again, with the defect 7 tests of lifecycle-defects.test.ts, before this pin moves.
    const version = (createRequire(import.meta.url)('kafkajs/package.json') as { version: string }).version;
    expect(version).toBe('2.2.4');
  });
});
