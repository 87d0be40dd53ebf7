import { describe, expect, inject, it } from 'vitest';
import { runFaultSoak } from '../../../bench/fault-soak/scenario.ts';
import { controlServer } from '../../env/control.ts';

// The benchmark's scenario at a size the suite can afford: the same faults, fewer messages and toggles.
describe('combined fault soak (short)', () => {
  it(
    'three service processes through random drain and pause toggles, a kill -9 and restart, a broker restart and an etcd restart: nothing missing, duplicates only from what the kill left uncommitted or the broker outage could not commit, no member left behind, never ready without a session',
    { timeout: 300_000 },
    async () => {
      const r = await runFaultSoak(
        {
          brokers: [inject('kafkaBrokers')],
          etcdEndpoints: [inject('etcdEndpoints')],
          control: controlServer,
        },
        {
          instances: 3,
          partitions: 6,
          messages: 6_000,
          producePerSecond: 200,
          toggles: 12,
          workMs: 5,
          sessionTimeoutMs: 10_000,
          drainTimeoutMs: 10_000,
        },
        (line) => console.log(`[fault-soak] ${line}`),
      );
      console.log(`[fault-soak] ${JSON.stringify(r)}`);
      expect(r.missing).toBe(0);
      expect(r.restarts).toEqual({ kill9: 1, kafka: 1, etcd: 1 });
      expect(r.kill).not.toBeNull();
      expect(r.kill?.duplicatesOfUncommitted).toBeLessThanOrEqual(r.kill?.uncommittedAtKill ?? 0);
      // A commit can only be lost to a broker that is down: what was finished but uncommitted when it went
      // down, or finished while it was, may come again after the rejoin. Any other duplicate is a commit the
      // engine dropped (a failed one it did not send again, say).
      expect(r.brokerRestart).not.toBeNull();
      expect(r.brokerRestart?.duplicatesOfThem).toBeLessThanOrEqual(
        r.brokerRestart?.uncommittedAtRestart ?? 0,
      );
      // Named first, so that a failure shows who processed each unexplained repeat and when.
      expect(r.unexplained).toEqual([]);
      expect(r.otherDuplicates).toBe(0);
      expect(r.members.leftBehind).toBe(0);
      expect(r.members.atEnd).toBe(0);
      expect(r.readiness.samples).toBeGreaterThan(0);
      expect(r.readiness.readyWithoutSession).toBe(0);
    },
  );
});
