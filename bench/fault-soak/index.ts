import type { BenchEnv } from '../lib/env.ts';
import type { Benchmark, BenchOutput } from '../lib/types.ts';
import { runFaultSoak, type FaultSoakParams } from './scenario.ts';

const PARAMS: FaultSoakParams = {
  instances: 3,
  partitions: 6,
  messages: 200_000,
  producePerSecond: 1_000,
  toggles: 100,
  workMs: 2,
  sessionTimeoutMs: 10_000,
  drainTimeoutMs: 10_000,
};

export const faultSoak: Benchmark = {
  name: 'fault-soak',
  title: 'Combined fault soak: toggles, kill -9, broker and etcd restarts',
  byNameOnly: true,
  async run(env: BenchEnv, log): Promise<BenchOutput> {
    const r = await runFaultSoak(env, PARAMS, log);
    const k = r.kill;
    const b = r.brokerRestart;
    const rd = r.readiness;
    const m = r.members;
    return {
      params: { ...PARAMS },
      results: { ...r },
      summary: [
        `${PARAMS.instances} service processes (\`node --conditions=@kmaint/source service/src/main.ts\`) on ` +
          `${PARAMS.partitions} partitions; ${PARAMS.messages} messages produced at ~${PARAMS.producePerSecond}/s, ` +
          `handler ${PARAMS.workMs} ms; meanwhile ${PARAMS.toggles} random switch flips (drain or pause, one ` +
          `instance's key each), a kill -9 at 30 % processed of an instance with messages in flight, and its ` +
          `restart, a Kafka broker restart at 50 % and an etcd restart at 70 %. Processed messages are read ` +
          `from each instance's 'message processed' log lines; readiness is sampled every 100 ms per instance.`,
        '',
        '| messages | missing | duplicates | of them after the kill (processed, uncommitted at kill; in flight) | of them after the broker restart (uncommitted at it) | other duplicates | toggles (drain / pause / off) | restarts (kill -9 / Kafka / etcd) | drains checked: listed at maintenance / left behind | members left at end | readiness samples (200) | 200 without a session | 200 outside a stable group (longest) | duration |',
        '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
        `| ${r.messages} | ${r.missing} | ${r.duplicates} | ` +
          `${k === null ? 'no kill' : `${k.duplicatesOfUncommitted} (${k.uncommittedAtKill}; ${k.inFlightAtKill})`} | ` +
          `${b === null ? 'no restart' : `${b.duplicatesOfThem} (${b.uncommittedAtRestart})`} | ` +
          `${r.otherDuplicates} | ${r.toggles.total} (${r.toggles.drain} / ${r.toggles.pause} / ${r.toggles.off}) | ` +
          `${r.restarts.kill9} / ${r.restarts.kafka} / ${r.restarts.etcd} | ` +
          `${m.drainsChecked}: ${m.listedAtMaintenance} / ${m.leftBehind} | ${m.atEnd} | ` +
          `${rd.samples} (${rd.ready}) | ${rd.readyWithoutSession} | ` +
          `${rd.readyOutsideStableGroup} (${rd.longestOutsideStableGroupMs} ms) | ${(r.durationMs / 1000).toFixed(0)} s |`,
      ],
    };
  },
};
