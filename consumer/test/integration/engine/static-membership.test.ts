import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Admin, type Consumer } from '@platformatic/kafka';
import { KmaintError } from '@kmaint/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Engine } from '../../../src/engine/index.ts';
import {
  Recorder,
  brokers,
  createTopic,
  makeEngine,
  produce,
  setSwitch,
  stateIs,
  uniqueName,
  useTools,
  waitFor,
  waitForAll,
} from './harness.ts';

/**
 * Static membership (KIP-345) on @platformatic/kafka, the one client that has it: members with a
 * group.instance.id (the pod name in the chart) that restart within the session timeout, or sit through
 * a pause window, keep the group's generation and assignment; a drain window still takes the member out
 * of the group. kafkajs has no static membership and is refused when the engine is built.
 */

const t = useTools();
const PARTITIONS = 6;
/** Longer than a restart here takes, so a member that is away for one is never dropped by the broker. */
const SESSION_TIMEOUT_MS = 30_000;

/** Each JoinGroup the library completed, with the generation the broker answered (its own event). */
interface Join {
  instanceId: string | null;
  generationId: number;
}
const joins: Join[] = [];
const onInstance = (message: unknown): void => {
  const { type, instance } = message as { type: string; instance: Consumer };
  if (type !== 'consumer') return;
  instance.on('consumer:group:join', (e: { generationId?: number }) => {
    joins.push({ instanceId: instance.groupInstanceId, generationId: e.generationId ?? -1 });
  });
};
let admin: Admin;

beforeAll(() => {
  // The library announces every client it makes on this channel: the test hears the group generations
  // the broker hands the engine's consumers without reaching into the adapter.
  subscribe('plt:kafka:instances', onInstance);
  admin = new Admin({ clientId: uniqueName('static-admin'), bootstrapBrokers: brokers() });
});
afterAll(async () => {
  unsubscribe('plt:kafka:instances', onInstance);
  await admin.close();
});

/** The group as the broker describes it: its state, and each static member's partitions. */
async function groupView(groupId: string): Promise<{ state: string; assignment: Record<string, number[]> }> {
  const group = (await admin.describeGroups({ groups: [groupId] })).get(groupId);
  const assignment: Record<string, number[]> = {};
  for (const m of group?.members.values() ?? []) {
    const partitions = [...(m.assignments?.values() ?? [])].flatMap((a) => a.partitions);
    assignment[m.groupInstanceId ?? `dynamic:${m.id}`] = partitions.sort((a, b) => a - b);
  }
  return { state: group?.state ?? 'UNKNOWN', assignment };
}

/** Three static members of one group, each on its own switch key and one key they share. */
function members(topic: string, groupId: string, rec: Recorder) {
  const shared = `/maintenance/${uniqueName('static-all')}`;
  const ids = [0, 1, 2].map((i) => `${groupId}-pod-${i}`);
  const make = (i: number, key = shared): Engine =>
    makeEngine({
      topic,
      groupId,
      key,
      memberId: ids[i] as string,
      handler: rec.handler(),
      overrides: {
        kafka: {
          adapter: 'platformatic',
          groupProtocol: 'classic',
          groupInstanceId: ids[i] as string,
          sessionTimeoutMs: SESSION_TIMEOUT_MS,
        },
      },
    });
  return { shared, ids, make };
}

/** Waits until the group is Stable with every one of `ids` holding partitions, and returns it. */
async function stable(groupId: string, ids: string[]) {
  return waitFor(
    async () => {
      const g = await groupView(groupId);
      const held = ids.every((id) => (g.assignment[id]?.length ?? 0) > 0);
      return g.state.toUpperCase() === 'STABLE' && Object.keys(g.assignment).length === ids.length && held
        ? g
        : null;
    },
    { message: `group ${groupId} stable with ${ids.join(', ')}` },
  );
}

describe('static membership (group.instance.id) on @platformatic/kafka', () => {
  it(
    'a rolling restart of all three members and a pause window keep the generation and the assignment',
    { timeout: 300_000 },
    async () => {
      const topic = uniqueName('static');
      const groupId = uniqueName('g-static');
      await createTopic(t, topic, PARTITIONS);
      const rec = new Recorder();
      const { shared, ids, make } = members(topic, groupId, rec);
      const engines = [make(0), make(1), make(2)];
      try {
        for (const e of engines) await e.start();
        const before = await stable(groupId, ids);
        let total = 600;
        await produce(t, topic, total, { partitions: PARTITIONS });
        await waitForAll(t, rec, total, { topic, groupId, engines });
        const generation = Math.max(
          ...joins.filter((j) => ids.includes(j.instanceId ?? '')).map((j) => j.generationId),
        );
        const joinsBefore = joins.length;

        for (let i = 0; i < engines.length; i++) {
          // Messages keep arriving on every partition while the member is away; its own wait for it.
          const flowing = produce(t, topic, 300, { partitions: PARTITIONS, prefix: `restart${i}` });
          total += 300;
          await engines[i]?.shutdown();
          const back = make(i);
          engines[i] = back;
          const processed = rec.processedTotal;
          await back.start();
          await waitFor(stateIs(back, 'running'), { message: `${ids[i]} running again` });
          await flowing;
          await waitFor(() => back.counters().processed > 0 && rec.processedTotal > processed, {
            message: `${ids[i]} consuming again`,
          });
        }
        await waitForAll(t, rec, total, { topic, groupId, engines });

        await setSwitch(t, shared, { enabled: true, mode: 'pause', reason: 'static pause' });
        for (const e of engines) await waitFor(stateIs(e, 'maintenance'), { message: 'paused' });
        const paused = await groupView(groupId);
        await produce(t, topic, 300, { partitions: PARTITIONS, prefix: 'paused' });
        total += 300;
        await setSwitch(t, shared, 'false');
        for (const e of engines) await waitFor(stateIs(e, 'running'), { message: 'running after the pause' });
        await waitForAll(t, rec, total, { topic, groupId, engines });

        const after = await stable(groupId, ids);
        const since = joins.slice(joinsBefore);
        console.log(
          `[static] generation ${generation} before; joins since: ${since.map((j) => `${j.instanceId?.slice(-5)}@${j.generationId}`).join(', ')}; ` +
            `assignment ${JSON.stringify(before.assignment)} → ${JSON.stringify(after.assignment)}; ` +
            `${total} messages, duplicates ${rec.duplicates}`,
        );
        // One join per restart, each answered with the generation the group had: no rebalance.
        expect(since.map((j) => j.instanceId)).toEqual(ids);
        expect(since.every((j) => j.generationId === generation)).toBe(true);
        expect(paused.assignment).toEqual(before.assignment);
        expect(after.assignment).toEqual(before.assignment);
        // Nobody else was told of a new assignment: each engine saw only its own join.
        for (const e of engines) expect(e.counters().rebalances).toBe(1);
        expect(rec.distinct).toBe(total);
      } finally {
        await Promise.all(engines.map((e) => e.shutdown()));
      }
    },
  );

  it(
    'a drain window takes a static member out of the group: its partitions move to the others',
    { timeout: 300_000 },
    async () => {
      const topic = uniqueName('static-drain');
      const groupId = uniqueName('g-static-drain');
      await createTopic(t, topic, PARTITIONS);
      const rec = new Recorder();
      const { ids, make } = members(topic, groupId, rec);
      const ownKey = `/maintenance/${uniqueName('static-one')}`;
      const engines = [make(0, ownKey), make(1), make(2)];
      const [drained] = engines as [Engine, Engine, Engine];
      try {
        for (const e of engines) await e.start();
        await stable(groupId, ids);
        let total = 300;
        await produce(t, topic, total, { partitions: PARTITIONS });
        await waitForAll(t, rec, total, { topic, groupId, engines });
        const generation = Math.max(
          ...joins.filter((j) => ids.includes(j.instanceId ?? '')).map((j) => j.generationId),
        );

        await setSwitch(t, ownKey, { enabled: true, mode: 'drain', reason: 'static drain' });
        await waitFor(stateIs(drained, 'maintenance'), { message: 'drained' });
        // Drained means out of the group, static or not: when the member reports maintenance it has
        // left, not merely stopped heartbeating until the broker's session timeout drops it.
        expect(Object.keys((await groupView(groupId)).assignment)).not.toContain(ids[0]);
        const without = await stable(groupId, ids.slice(1));
        expect(Object.keys(without.assignment).sort()).toEqual(ids.slice(1).sort());
        expect(Object.values(without.assignment).flat().sort()).toEqual([0, 1, 2, 3, 4, 5]);
        const processedByDrained = drained.counters().processed;
        await produce(t, topic, 300, { partitions: PARTITIONS, prefix: 'during' });
        total += 300;
        await waitForAll(t, rec, total, { topic, groupId, engines });
        expect(drained.counters().processed).toBe(processedByDrained);
        const rebalanced = joins.filter((j) => j.generationId > generation);

        await setSwitch(t, ownKey, 'false');
        await waitFor(stateIs(drained, 'running'), { message: 'back from the drain' });
        await stable(groupId, ids);
        console.log(
          `[static drain] generation ${generation} before; the others rejoined at ${[...new Set(rebalanced.map((j) => j.generationId))].join(', ')}`,
        );
        expect(rebalanced.length).toBeGreaterThanOrEqual(2);
        expect(rec.distinct).toBe(total);
      } finally {
        await Promise.all(engines.map((e) => e.shutdown()));
      }
    },
  );

  it('kafkajs has no static membership: the engine is refused with KAFKA_CLIENT_UNSUPPORTED', () => {
    const build = (): Engine =>
      makeEngine({
        topic: uniqueName('static-kafkajs'),
        groupId: uniqueName('g-static-kafkajs'),
        key: `/maintenance/${uniqueName('static-kafkajs')}`,
        handler: async () => undefined,
        overrides: { kafka: { adapter: 'kafkajs', groupProtocol: 'classic', groupInstanceId: 'pod-0' } },
      });
    expect(build).toThrow(KmaintError);
    expect(build).toThrow(/static membership .* needs the platformatic client/);
    try {
      build();
    } catch (err) {
      expect((err as KmaintError).code).toBe('KAFKA_CLIENT_UNSUPPORTED');
    }
  });
});
