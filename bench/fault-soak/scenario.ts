import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import kafkajs, { type Admin, type Producer } from 'kafkajs';
import { uniqueName, waitFor } from '../../test/env/helpers.ts';
import { createTopicsWithLeaders } from '../../test/env/kafka.ts';
import { freePort } from '../../test/env/ports.ts';

const { Kafka, logLevel } = kafkajs;
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export type ServerAction = 'stop' | 'start' | 'restart' | 'kill';

/** The real servers of the run, and a way to restart them (test/env's control channel). */
export interface FaultSoakEnv {
  brokers: string[];
  etcdEndpoints: string[];
  control(server: 'kafka' | 'etcd', action: ServerAction): Promise<void>;
}

export interface FaultSoakParams {
  instances: number;
  partitions: number;
  messages: number;
  /** Production rate: the faults happen while messages still arrive. */
  producePerSecond: number;
  /** Random switch flips (one instance's key: on in drain or pause mode, or off). */
  toggles: number;
  workMs: number;
  sessionTimeoutMs: number;
  drainTimeoutMs: number;
}

export interface FaultSoakResult {
  /** Messages in the topic at the end (the end offsets summed). */
  messages: number;
  distinctProcessed: number;
  missing: number;
  /** Handler completions beyond the first per message. */
  duplicates: number;
  kill: {
    instance: string;
    /** Messages the killed instance was running (its last /health before the kill). */
    inFlightAtKill: number;
    /** Messages it had finished at or past its group's committed offset: processed, not committed. */
    uncommittedAtKill: number;
    /** Of those, how many were processed again. */
    duplicatesOfUncommitted: number;
  } | null;
  brokerRestart: {
    /**
     * Messages finished at or past the group's committed offset when the broker went down, or while it
     * was down: their commits had no broker to accept them, so a rejoin after it may fetch them again.
     */
    uncommittedAtRestart: number;
    /** Of those (and not of the kill's), how many were processed again. */
    duplicatesOfThem: number;
  } | null;
  /**
   * Duplicates explained neither by the kill nor by the broker's outage: a commit the engine dropped or
   * gave up on while a broker could have taken it.
   */
  otherDuplicates: number;
  toggles: { total: number; drain: number; pause: number; off: number };
  restarts: { kill9: number; kafka: number; etcd: number };
  members: {
    /** Drains checked: the instance reported maintenance in drain mode and describeGroups was read. */
    drainsChecked: number;
    /** Of those, still listed in the group when it reported maintenance. */
    listedAtMaintenance: number;
    /** Which instance was listed, and when it reported maintenance (ms from the start). */
    listedBy: string[];
    /**
     * Still listed a session timeout later (after a broker outage during the drain: once the restarted
     * coordinator had a rebalance timeout to expire it too), with its switch still on: left behind.
     */
    leftBehind: number;
    /** Which instance was left behind, and when it reported maintenance (ms from the start). */
    leftBehindBy: string[];
    /** Members of the run's instances in the group after every instance was drained or stopped. */
    atEnd: number;
  };
  readiness: {
    /** /readyz samples (every 100 ms per live instance). */
    samples: number;
    ready: number;
    /** 200 while the same instance's /health (read right after, state unchanged) said not running. */
    readyWithoutSession: number;
    /** 200 while the group was Stable without the instance in it (describeGroups of the same tick). */
    readyOutsideStableGroup: number;
    /** Longest run of consecutive such samples of one instance, in ms. */
    longestOutsideStableGroupMs: number;
  };
  /**
   * Messages processed more often than the faults above explain (each explains one repeat of what it
   * left uncommitted): who processed them and when, in ms from the start, beside the faults' times.
   */
  unexplained: { key: string; by: string[] }[];
  /** Messages processed three times: left uncommitted by the kill, and again by the broker outage. */
  repeatedByBoth: number;
  /** When each fault and drain toggle happened, in ms from the start: what `unexplained` is read against. */
  timeline: string[];
  /** Every instance's whole log, `<name>.log`, kept for a run that wants reading. */
  logDir: string;
  errorLines: number;
  durationMs: number;
}

/** The engine's rebalance timeout: how long a restarted coordinator may hold a member that is gone. */
const REBALANCE_TIMEOUT_MS = 60_000;

/** One service process (`node --conditions=@kmaint/source service/src/main.ts`) and what it logged. */
class Instance {
  readonly name: string;
  readonly key: string;
  url = '';
  switchOn = false;
  /** Counts its switch flips: a check that began before the latest flip is superseded by it. */
  flips = 0;
  /** `<partition>/<offset>` of every message it logged as processed, across its restarts. */
  readonly processed: string[] = [];
  lastHealth: { state: string; inFlight: number } | null = null;
  #child: ChildProcess | null = null;
  #exited: Promise<unknown> = Promise.resolve();
  readonly #onProcessed: (key: string, by: string) => void;
  readonly #onError: (line: string) => void;
  readonly #log: WriteStream;

  constructor(
    name: string,
    key: string,
    logDir: string,
    onProcessed: (key: string, by: string) => void,
    onError: (line: string) => void,
  ) {
    this.name = name;
    this.#log = createWriteStream(join(logDir, `${name}.log`), { flags: 'a' });
    this.key = key;
    this.#onProcessed = onProcessed;
    this.#onError = onError;
  }

  get alive(): boolean {
    return this.#child !== null;
  }

  async start(env: Record<string, string>): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}`;
    const child = spawn(
      join(repoRoot, 'node_modules/.bin/node'),
      ['--conditions=@kmaint/source', 'service/src/main.ts'],
      {
        cwd: repoRoot,
        env: {
          PATH: process.env['PATH'] ?? '/usr/bin:/bin',
          ...env,
          HTTP_PORT: String(port),
          MEMBER_ID: this.name,
          KAFKA_CLIENT_ID: this.name,
          MAINTENANCE_KEY: this.key,
          // 'message processed' is a debug line: it is how the run knows what each instance finished.
          LOG_LEVEL: 'debug',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.#child = child;
    this.#exited = once(child, 'exit');
    void this.#exited.then(() => {
      if (this.#child === child) this.#child = null;
    });
    createInterface({ input: child.stdout as Readable }).on('line', (line) => {
      this.#log.write(`${line}\n`);
      if (line.includes('"message processed"')) {
        const { partition, offset } = JSON.parse(line) as { partition: number; offset: string };
        const key = `${partition}/${offset}`;
        this.processed.push(key);
        this.#onProcessed(key, this.name);
      } else if (line.includes('"level":"error"') || line.includes('"level":"fatal"')) {
        this.#onError(`${this.name}: ${line}`);
      }
    });
    createInterface({ input: child.stderr as Readable }).on('line', (l) => {
      this.#log.write(`${l}\n`);
      this.#onError(`${this.name}: ${l}`);
    });
    await waitFor(async () => (await fetch(`${this.url}/livez`)).ok, {
      timeoutMs: 60_000,
      intervalMs: 100,
      message: `${this.name} answering /livez`,
    });
  }

  async kill9(): Promise<void> {
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  async stop(): Promise<void> {
    this.#child?.kill('SIGTERM');
    await this.#exited;
  }

  async health(): Promise<{ state: string; since: string; inFlight: number; mode: string }> {
    const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as {
      maintenance: { state: string; since: string; mode: string };
      inFlight: number;
    };
    return { ...body.maintenance, inFlight: body.inFlight };
  }
}

/** Reads what the group holds: its state and the client ids of its members. */
async function group(admin: Admin, groupId: string): Promise<{ state: string; members: string[] }> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  return { state: g?.state ?? 'Unknown', members: (g?.members ?? []).map((m) => m.clientId) };
}

/** Produces `count` messages at `perSecond`, retrying through a broker restart. */
async function produceSteadily(
  producer: Producer,
  topic: string,
  count: number,
  perSecond: number,
  partitions: number,
  stop: () => boolean,
): Promise<number> {
  const chunk = Math.max(1, Math.round(perSecond / 10));
  let sent = 0;
  const started = performance.now();
  while (sent < count && !stop()) {
    const n = Math.min(chunk, count - sent);
    const messages = Array.from({ length: n }, (_, i) => ({
      value: `fs-${sent + i}`,
      partition: (sent + i) % partitions,
    }));
    try {
      await producer.send({ topic, messages });
      sent += n;
    } catch {
      await sleep(500);
      continue;
    }
    const due = started + (sent / perSecond) * 1_000;
    const ahead = due - performance.now();
    if (ahead > 0) await sleep(ahead);
  }
  return sent;
}

/**
 * Three service processes on one topic while the run flips their switches at random, kills one with
 * SIGKILL and starts it again, and restarts the Kafka broker and etcd; then checks that every message
 * was processed, counts the duplicates against what the killed instance held uncommitted, looks for
 * members left in the group after drains and stops, and samples readiness every 100 ms throughout.
 */
export async function runFaultSoak(
  env: FaultSoakEnv,
  p: FaultSoakParams,
  log: (line: string) => void,
): Promise<FaultSoakResult> {
  const started = performance.now();
  const kafka = new Kafka({
    clientId: uniqueName('fault-soak'),
    brokers: env.brokers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin({ retry: { retries: 8 } });
  const producer = kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
  });
  await Promise.all([admin.connect(), producer.connect()]);
  const etcd = new Etcd3({ hosts: env.etcdEndpoints });
  const topic = uniqueName('fault-soak');
  const groupId = uniqueName('g-fault-soak');
  await createTopicsWithLeaders(admin, [{ topic, numPartitions: p.partitions }]);

  const counts = new Map<string, number>();
  const at = (): number => Math.round(performance.now() - started);
  // Every processing of a message seen more than once: enough to tell, after the run, which fault a
  // repeat came from.
  const firstBy = new Map<string, string>();
  const repeatsBy = new Map<string, string[]>();
  const timeline: string[] = [];
  const mark = (what: string): void => {
    timeline.push(`${at()} ${what}`);
  };
  const errors: string[] = [];
  const logDir = await mkdtemp(join(tmpdir(), 'kmaint-fault-soak-'));
  log(`  instance logs in ${logDir}`);
  const instances = Array.from(
    { length: p.instances },
    (_, i) =>
      new Instance(
        uniqueName(`fs-${i}`),
        `/maintenance/${uniqueName(`fs-${i}`)}`,
        logDir,
        (key, by) => {
          const n = (counts.get(key) ?? 0) + 1;
          counts.set(key, n);
          const who = `${by}@${at()}`;
          if (n === 1) firstBy.set(key, who);
          else repeatsBy.set(key, [...(repeatsBy.get(key) ?? [firstBy.get(key) ?? '?']), who]);
        },
        (line) => errors.push(line),
      ),
  );
  const serviceEnv = {
    KAFKA_BROKERS: env.brokers.join(','),
    ETCD_ENDPOINTS: env.etcdEndpoints.join(','),
    KAFKA_TOPICS: topic,
    KAFKA_CONSUMER_GROUP: groupId,
    KAFKA_OFFSET_INITIAL: 'oldest',
    KAFKA_SESSION_TIMEOUT: `${p.sessionTimeoutMs}ms`,
    KAFKA_HEARTBEAT_INTERVAL: `${Math.round(p.sessionTimeoutMs / 10)}ms`,
    DRAIN_TIMEOUT: `${p.drainTimeoutMs}ms`,
    SIMULATED_WORK_TIME: `${p.workMs}ms`,
    MAX_WORKERS: '10',
  };
  const put = (key: string, value: string): Promise<unknown> =>
    waitFor(
      async () => {
        await etcd.put(key).value(value);
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 250, message: `etcd put ${key}` },
    );

  const readiness = {
    samples: 0,
    ready: 0,
    readyWithoutSession: 0,
    readyOutsideStableGroup: 0,
    longestOutsideStableGroupMs: 0,
  };
  const outsideSince = new Map<string, number>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const tickAt = Date.now();
      const g = await group(admin, groupId).catch(() => null);
      await Promise.all(
        instances
          .filter((x) => x.alive)
          .map(async (x) => {
            const askedAt = Date.now();
            const ready = await fetch(`${x.url}/readyz`, { signal: AbortSignal.timeout(1_000) })
              .then((r) => r.status === 200)
              .catch(() => null);
            if (ready === null) return;
            const h = await x.health().catch(() => null);
            if (h !== null) x.lastHealth = h;
            readiness.samples += 1;
            if (!ready) {
              outsideSince.delete(x.name);
              return;
            }
            readiness.ready += 1;
            if (h !== null && h.state !== 'running' && Date.parse(h.since) < askedAt) {
              readiness.readyWithoutSession += 1;
            }
            if (g !== null && g.state === 'Stable' && !g.members.includes(x.name)) {
              readiness.readyOutsideStableGroup += 1;
              const since = outsideSince.get(x.name) ?? tickAt;
              outsideSince.set(x.name, since);
              readiness.longestOutsideStableGroupMs = Math.max(
                readiness.longestOutsideStableGroupMs,
                tickAt - since + 100,
              );
            } else {
              outsideSince.delete(x.name);
            }
          }),
      );
      await sleep(Math.max(0, 100 - (Date.now() - tickAt)));
    }
  })();

  /** When the broker came back from its restart, ms from the start (null while it is down). */
  let brokerOutage: { to: number | null } | null = null;
  const members = {
    drainsChecked: 0,
    listedAtMaintenance: 0,
    listedBy: [] as string[],
    leftBehind: 0,
    leftBehindBy: [] as string[],
    atEnd: 0,
  };
  const memberChecks: Promise<void>[] = [];
  /** After a drain-mode switch: once the instance says maintenance, it must not be in the group. */
  const checkLeft = async (x: Instance): Promise<void> => {
    const toggledAt = at();
    const flips = x.flips;
    const reached = await waitFor(
      async () => {
        if (!x.alive || !x.switchOn) return 'gone';
        const h = await x.health();
        return h.state === 'maintenance' && h.mode === 'drain' ? 'maintenance' : null;
      },
      { timeoutMs: p.drainTimeoutMs + 30_000, intervalMs: 50, message: `${x.name} drained` },
    ).catch(() => 'gone');
    if (reached !== 'maintenance') return;
    const reportedAt = at();
    const g = await group(admin, groupId).catch(() => null);
    if (g === null) return;
    members.drainsChecked += 1;
    if (!g.members.includes(x.name)) return;
    members.listedAtMaintenance += 1;
    members.listedBy.push(`${x.name}@${reportedAt}`);
    const goneWithin = (timeoutMs: number): Promise<boolean> =>
      waitFor(async () => x.flips !== flips || !(await group(admin, groupId)).members.includes(x.name), {
        timeoutMs,
        intervalMs: 250,
      }).catch(() => false);
    let gone = await goneWithin(p.sessionTimeoutMs + 5_000);
    // A member that could not send LeaveGroup to a broker that was down is in the restarted coordinator's
    // reloaded group, which expires it only after its session, or a rebalance's timeout, runs out there
    // (as the defect 3 test waits for).
    const outage = brokerOutage;
    if (!gone && outage !== null && (outage.to === null || outage.to >= toggledAt))
      gone = await goneWithin(REBALANCE_TIMEOUT_MS + p.sessionTimeoutMs + 5_000);
    // Switched off (and maybe on again) meanwhile: being listed is what that flip asked for.
    if (x.flips !== flips) return;
    if (!gone && x.switchOn) {
      members.leftBehind += 1;
      members.leftBehindBy.push(`${x.name}@${reportedAt}`);
      mark(`${x.name} left behind in the group after reporting maintenance at ${reportedAt}`);
    }
  };

  const toggles = { total: 0, drain: 0, pause: 0, off: 0 };
  const restarts = { kill9: 0, kafka: 0, etcd: 0 };
  let kill = null as FaultSoakResult['kill'];
  /** The group's committed offset of each partition now. */
  const committed = async (): Promise<Map<number, bigint>> => {
    const [now] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return new Map((now?.partitions ?? []).map((x) => [x.partition, BigInt(x.offset)]));
  };
  const killedUncommitted = new Set<string>();
  let brokerRestart = null as FaultSoakResult['brokerRestart'];
  const brokerUncommitted = new Set<string>();
  const fraction = (): number => counts.size / p.messages;

  try {
    await Promise.all(instances.map((x) => put(x.key, 'false')));
    await Promise.all(instances.map((x) => x.start(serviceEnv)));
    await waitFor(async () => (await group(admin, groupId)).members.length === p.instances, {
      timeoutMs: 120_000,
      message: 'every instance in the group',
    });
    log(`  ${p.instances} instances in group ${groupId}; producing ${p.messages} messages`);
    let producing = true;
    const production = produceSteadily(
      producer,
      topic,
      p.messages,
      p.producePerSecond,
      p.partitions,
      () => false,
    ).finally(() => (producing = false));
    const expectedSeconds = p.messages / p.producePerSecond;
    const toggleEveryMs = (expectedSeconds * 1_000) / (p.toggles + 1);

    const toggling = (async () => {
      for (let i = 0; i < p.toggles; i++) {
        await sleep(toggleEveryMs);
        const alive = instances.filter((x) => x.alive);
        const x = alive[Math.floor(Math.random() * alive.length)];
        if (x === undefined) continue;
        x.flips += 1;
        if (x.switchOn) {
          x.switchOn = false;
          toggles.off += 1;
          mark(`off ${x.name}`);
          await put(x.key, 'false');
        } else {
          const mode = Math.random() < 0.5 ? 'drain' : 'pause';
          x.switchOn = true;
          toggles[mode] += 1;
          mark(`${mode} ${x.name}`);
          await put(x.key, JSON.stringify({ enabled: true, mode }));
          if (mode === 'drain') memberChecks.push(checkLeft(x));
        }
        toggles.total += 1;
      }
    })();

    const faults = (async () => {
      await waitFor(() => fraction() >= 0.3 || !producing, { timeoutMs: 600_000, intervalMs: 50 });
      // A kill in the middle of processing: an instance with messages in flight at its last sample.
      const busy = (): Instance | undefined =>
        instances
          .filter((x) => x.alive && x.lastHealth?.state === 'running')
          .sort((a, b) => (b.lastHealth?.inFlight ?? 0) - (a.lastHealth?.inFlight ?? 0))[0];
      await waitFor(() => (busy()?.lastHealth?.inFlight ?? 0) > 0, {
        timeoutMs: 30_000,
        intervalMs: 20,
      }).catch(() => undefined);
      const victim = busy() ?? instances[0];
      if (victim !== undefined) {
        const inFlightAtKill = victim.lastHealth?.inFlight ?? 0;
        mark(`kill -9 ${victim.name}`);
        await victim.kill9();
        restarts.kill9 += 1;
        const committedBy = await committed();
        for (const key of new Set(victim.processed)) {
          const [part, off] = key.split('/');
          if (BigInt(off as string) >= (committedBy.get(Number(part)) ?? -1n)) killedUncommitted.add(key);
        }
        kill = {
          instance: victim.name,
          inFlightAtKill,
          uncommittedAtKill: killedUncommitted.size,
          duplicatesOfUncommitted: 0,
        };
        log(
          `  kill -9 ${victim.name}: ${inFlightAtKill} in flight, ${killedUncommitted.size} processed but uncommitted`,
        );
        await victim.start(serviceEnv);
        mark(`${victim.name} started again`);
      }
      await waitFor(() => fraction() >= 0.5 || !producing, { timeoutMs: 600_000, intervalMs: 50 });
      log('  restarting the Kafka broker');
      const committedBy = await committed();
      mark('broker restart');
      brokerOutage = { to: null };
      await env.control('kafka', 'restart');
      brokerOutage.to = at();
      mark('broker back');
      restarts.kafka += 1;
      for (const key of counts.keys()) {
        const [part, off] = key.split('/');
        if (BigInt(off as string) >= (committedBy.get(Number(part)) ?? -1n)) brokerUncommitted.add(key);
      }
      brokerRestart = { uncommittedAtRestart: brokerUncommitted.size, duplicatesOfThem: 0 };
      log(
        `  broker back: ${brokerUncommitted.size} processed but uncommitted when it went down or while down`,
      );
      await waitFor(() => fraction() >= 0.7 || !producing, { timeoutMs: 600_000, intervalMs: 50 });
      log('  restarting etcd');
      mark('etcd restart');
      await env.control('etcd', 'restart');
      mark('etcd back');
      restarts.etcd += 1;
    })();

    await Promise.all([production, toggling, faults]);
    // Every switch off: whatever is left is consumed by the instances running again.
    for (const x of instances) {
      x.switchOn = false;
      await put(x.key, 'false');
    }
    await Promise.all(memberChecks);
    const ends = await admin.fetchTopicOffsets(topic);
    const total = ends.reduce((sum, e) => sum + Number(e.high), 0);
    await waitFor(() => counts.size >= total, {
      timeoutMs: 300_000,
      intervalMs: 200,
      message: `all ${total} messages processed`,
    }).catch((err: unknown) => log(`  ${String(err)}`));

    // The end: one instance drains, the others stop; none of them may be left in the group.
    const [first, ...rest] = instances;
    if (first !== undefined) {
      first.switchOn = true;
      await put(first.key, JSON.stringify({ enabled: true, mode: 'drain' }));
      await checkLeft(first);
    }
    for (const x of rest) await x.stop();
    members.atEnd = (await group(admin, groupId)).members.filter((m) =>
      instances.some((x) => x.name === m),
    ).length;

    // Each fault explains one repeat of a message it left uncommitted: the kill's by the partition's
    // next owner, the broker outage's by the fetch after the rejoin. A message that both left uncommitted
    // (processed again after the kill and not yet committed when the broker went down) may come three
    // times; any repeat beyond what its faults explain is a commit the engine lost.
    let duplicates = 0;
    let ofUncommitted = 0;
    let ofOutage = 0;
    const unexplained: FaultSoakResult['unexplained'] = [];
    let repeatedByBoth = 0;
    for (const [key, n] of counts) {
      if (n < 2) continue;
      duplicates += n - 1;
      const byKill = killedUncommitted.has(key) ? 1 : 0;
      const byOutage = brokerUncommitted.has(key) ? Math.min(1, n - 1 - byKill) : 0;
      ofUncommitted += byKill;
      ofOutage += byOutage;
      if (byKill + byOutage === 2) repeatedByBoth += 1;
      if (n - 1 > byKill + byOutage && unexplained.length < 20) {
        unexplained.push({ key, by: repeatsBy.get(key) ?? [] });
      }
    }
    if (kill !== null) kill.duplicatesOfUncommitted = ofUncommitted;
    if (brokerRestart !== null) brokerRestart.duplicatesOfThem = ofOutage;
    let missing = 0;
    for (const e of ends)
      for (let o = 0; o < Number(e.high); o++) if (!counts.has(`${e.partition}/${o}`)) missing += 1;
    return {
      messages: total,
      distinctProcessed: counts.size,
      missing,
      duplicates,
      kill,
      brokerRestart,
      otherDuplicates: duplicates - ofUncommitted - ofOutage,
      unexplained,
      repeatedByBoth,
      timeline,
      logDir,
      toggles,
      restarts,
      members,
      readiness,
      errorLines: errors.length,
      durationMs: Math.round(performance.now() - started),
    };
  } finally {
    sampling = false;
    await sampler;
    await Promise.all(instances.map((x) => x.kill9()));
    await Promise.all([admin.disconnect(), producer.disconnect()]).catch(() => undefined);
    etcd.close();
    for (const line of errors.slice(-5)) log(`  last errors: ${line.slice(0, 400)}`);
  }
}
