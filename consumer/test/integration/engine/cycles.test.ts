import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { DrainResult } from '../../../src/engine/index.ts';
import {
  Recorder,
  committed,
  createTopic,
  fullyCommitted,
  groupMembers,
  makeEngine,
  produce,
  setSwitch,
  stateIs,
  useTools,
  uniqueName,
  waitFor,
  waitForAll,
} from './harness.ts';

const t = useTools();

const TOTAL = 10_000;
const CYCLES = 20;
const PARTITIONS = 3;

describe('many maintenance cycles while messages flow', () => {
  it(
    `${CYCLES} cycles through etcd, ${TOTAL} messages on ${PARTITIONS} partitions: none lost or skipped`,
    { timeout: 600_000 },
    async () => {
      const topic = uniqueName('cycles');
      const groupId = uniqueName('g-cycles');
      const key = `/maintenance/${uniqueName('svc')}`;
      await createTopic(t, topic, PARTITIONS);
      const rec = new Recorder();
      // A little asynchronous work per message, so drains find messages in flight.
      const engine = makeEngine({
        topic,
        groupId,
        key,
        handler: rec.handler(async (m) => {
          for (let i = 0; i < Number(m.offset) % 7; i++) await tick();
        }),
      });
      const drains: DrainResult[] = [];
      // When the engine saw each switch-on (entered draining), to split the latency into its parts.
      let drainingAt = 0;
      const seenMs: number[] = [];
      engine.events.on('transition', ({ to }) => {
        if (to === 'draining') drainingAt = performance.now();
      });
      engine.events.on('drained', (d) => drains.push(d));
      const cycleMs: number[] = [];
      const leaveMs: number[] = [];
      await engine.start();
      try {
        const perCycle = TOTAL / CYCLES;
        for (let c = 0; c < CYCLES; c++) {
          const mode = c % 4 === 3 ? 'pause' : 'drain';
          const flowing = produce(t, topic, perCycle, { partitions: PARTITIONS, prefix: `c${c}` });
          // Wait for this cycle's messages to be arriving, then switch while they flow.
          const seenBefore = rec.processedTotal;
          await waitFor(() => rec.processedTotal > seenBefore, { message: `cycle ${c}: consuming` });
          const on = performance.now();
          await setSwitch(t, key, { enabled: true, mode, reason: `cycle ${c}` });
          await waitFor(stateIs(engine, 'maintenance'), {
            intervalMs: 5,
            message: `cycle ${c}: maintenance`,
          });
          if (mode === 'drain') {
            await waitFor(async () => (await groupMembers(t, groupId)).clientIds.length === 0, {
              message: `cycle ${c}: left the group`,
              intervalMs: 10,
            });
            leaveMs.push(performance.now() - on);
            seenMs.push(drainingAt - on);
          }
          // After every drain the committed offsets are exactly what was processed: nothing past a gap.
          const [done, high, comm] = [
            rec.firstGap(topic, PARTITIONS),
            rec.highest(topic, PARTITIONS),
            await committed(t, groupId, topic),
          ];
          for (let p = 0; p < PARTITIONS; p++) {
            expect(done.get(p), `cycle ${c} partition ${p}: processed is contiguous`).toBe(high.get(p));
            const got = comm.get(p) ?? -1n;
            expect(got < 0n ? 0n : got, `cycle ${c} partition ${p}: committed == processed`).toBe(
              done.get(p),
            );
          }
          await flowing;
          await setSwitch(t, key, 'false');
          await waitFor(stateIs(engine, 'running'), { message: `cycle ${c}: running` });
          cycleMs.push(performance.now() - on);
        }
        await waitForAll(t, rec, TOTAL, { topic, groupId, engines: [engine] });
        await waitFor(() => fullyCommitted(t, groupId, topic), { message: 'committed == end offsets' });
        const gaps = rec.firstGap(topic, PARTITIONS);
        expect([...gaps.values()].reduce((a, b) => a + b, 0n)).toBe(BigInt(TOTAL));
        expect(drains).toHaveLength(CYCLES);
        expect(drains.every((d) => !d.timedOut && d.leftInFlight === 0)).toBe(true);
        const stats = await engine.stats();
        expect(stats.partitions.every((p) => p.lag === 0)).toBe(true);
        const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
        const fmt = (xs: number[]): string =>
          `min ${Math.min(...xs).toFixed(0)} / avg ${(sum(xs) / xs.length).toFixed(0)} / max ${Math.max(...xs).toFixed(0)} ms`;
        console.log(
          `[cycles] ${CYCLES} cycles, ${TOTAL} messages: processed ${rec.processedTotal}, distinct ${rec.distinct}, ` +
            `duplicates ${rec.duplicates}, commits ${stats.commits}, rebalances ${stats.rebalances}\n` +
            `[cycles] drain (mode drain, incl. leaving) ${fmt(drains.filter((d) => d.mode === 'drain').map((d) => d.durationMs))}; ` +
            `drain (mode pause) ${fmt(drains.filter((d) => d.mode === 'pause').map((d) => d.durationMs))}; switch-on → left group (drain mode) ${fmt(leaveMs)}; ` +
            `whole cycle ${fmt(cycleMs)}; etcd put → engine draining ${fmt(seenMs)}`,
        );
      } finally {
        await engine.shutdown();
      }
    },
  );
});
