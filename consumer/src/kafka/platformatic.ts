import { KmaintError } from '@kmaint/common';
import {
  Admin,
  apiVersionsV3,
  Consumer,
  kGetBootstrapConnection,
  type Connection,
  Producer,
  type BaseOptions,
  type Message,
  type MessagesStream,
  type SASLOptions,
} from '@platformatic/kafka';
import type { Logger } from 'pino';
import { settlesWithin } from '../core/timeout.ts';
import type { ConsumedMessage } from '../handler.ts';
import {
  tpKey,
  type Batch,
  type ConsumeOptions,
  type ConsumerSession,
  type KafkaClient,
  type KafkaClientOptions,
  type OutgoingMessage,
  type TopicInfo,
} from './client.ts';
import {
  errorChain,
  kafkaSettingsProblem,
  tlsOptions,
  type KafkaSasl,
  type KafkaSecurity,
} from './security.ts';

/** The same rebalance timeout as the kafkajs adapter, so both clients give a slow member the same time. */
const REBALANCE_TIMEOUT_MS = 60_000;
/**
 * Messages held between the stream and the batch handlers before the stream is paused: about one fetch
 * of small messages per partition of a busy member. Past it the library's fetch loop waits.
 */
const BUFFER_LIMIT = 20_000;
/** The most messages one batch hands the processor (a partition's buffer can hold more). */
const BATCH_LIMIT = 5_000;
/**
 * A fetch's size limits, kafkajs' defaults: the library's own (50 MB a fetch, no limit per partition)
 * would let one fetch of a busy topic hold far more than the buffer above is meant to.
 */
const FETCH_MAX_BYTES = 10 * 1024 * 1024;
const FETCH_MAX_BYTES_PER_PARTITION = 1024 * 1024;
/** Calls of the producer and admin give up after about 4 s, as with kafkajs. */
const CALL_RETRIES = 4;
const CALL_RETRY_DELAY_MS = 500;

export interface PlatformaticClientOptions extends KafkaClientOptions {
  /** 'consumer' joins with the KIP-848 protocol (Kafka 4.0 and later); 'classic' with JoinGroup/SyncGroup. */
  groupProtocol: 'classic' | 'consumer';
  /**
   * Static membership (KIP-345): a member that comes back under the same id within the session timeout
   * gets its partitions back without a rebalance. Classic protocol only (see validateOptions).
   */
  groupInstanceId?: string | undefined;
  logger: Logger;
}

const SASL_NAMES = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
} as const satisfies Record<KafkaSasl['mechanism'], SASLOptions['mechanism']>;

/** The library's `tls` and `sasl` from kmaint's options. */
function security(s: KafkaSecurity): Pick<BaseOptions, 'tls' | 'sasl'> {
  const tls = tlsOptions(s.tls);
  return {
    ...(tls === undefined ? {} : { tls }),
    ...(s.sasl === undefined
      ? {}
      : {
          sasl: {
            mechanism: SASL_NAMES[s.sasl.mechanism],
            username: s.sasl.username,
            password: s.sasl.password,
          },
        }),
  };
}

/**
 * @platformatic/kafka behind kmaint's KafkaClient: one producer and one admin for the process, a consumer
 * per session. Its consumer hands out messages one by one through a stream; this adapter gathers them
 * into per-partition batches (the processor's unit), delivers the next batch of a partition only after
 * the previous one's handler returned, and pauses the stream while too much is buffered.
 */
export function createPlatformaticClient(options: PlatformaticClientOptions): KafkaClient {
  const log = options.logger.child({ component: 'platformatic-kafka' });
  const base = {
    clientId: options.clientId,
    bootstrapBrokers: options.brokers,
    ...security(options),
  };
  const calls = { ...base, retries: CALL_RETRIES, retryDelay: CALL_RETRY_DELAY_MS };
  let producer: Producer | null = null;
  let admin: Admin | null = null;
  const clients = (): { producer: Producer; admin: Admin } => {
    producer ??= new Producer({ ...calls, autocreateTopics: true });
    admin ??= new Admin(calls);
    return { producer, admin };
  };

  const call = async <T>(
    doing: string,
    fn: (c: { producer: Producer; admin: Admin }) => Promise<T>,
  ): Promise<T> => {
    try {
      return await fn(clients());
    } catch (err) {
      throw kafkaSettingsProblem(err, options) ?? asUnavailable(err, doing);
    }
  };

  return {
    async connect() {
      await call('connect to Kafka', ({ admin: a }) => a.metadata({ topics: [] }));
    },

    consume: (opts) => consume(options, base, log, opts),

    async produce(topic: string, msg: OutgoingMessage) {
      const result = await call(`accept a message for ${topic}`, ({ producer: p }) =>
        p.send({
          messages: [
            {
              topic,
              ...(msg.key === undefined || msg.key === null ? {} : { key: Buffer.from(msg.key) }),
              ...(msg.value === null ? {} : { value: Buffer.from(msg.value) }),
              // Header names are bytes too: without serializers the library takes only Buffers.
              ...(msg.headers === undefined
                ? {}
                : {
                    headers: new Map(
                      Object.entries(msg.headers).map(([k, v]) => [Buffer.from(k), Buffer.from(v)] as const),
                    ),
                  }),
            },
          ],
        }),
      );
      const sent = result.offsets?.[0];
      if (sent === undefined)
        throw new KmaintError('KAFKA_PRODUCE_FAILED', `no acknowledgement from ${topic}`);
      return { topic: sent.topic, partition: sent.partition, offset: sent.offset.toString() };
    },

    topicsInfo: (topics: string[]) =>
      call('describe the topics', async ({ admin: a }) => {
        const meta = await a.metadata({ topics, forceUpdate: true });
        const known = topics.filter((t) => meta.topics.has(t));
        const request = (timestamp: bigint) =>
          a.listOffsets({
            topics: known.map((name) => ({
              name,
              partitions: (meta.topics.get(name)?.partitions ?? []).map((_, partitionIndex) => ({
                partitionIndex,
                timestamp,
              })),
            })),
          });
        // ListOffsets' special timestamps: -2 the earliest offset, -1 the latest.
        const [earliest, latest] = await Promise.all([request(-2n), request(-1n)]);
        const offset = (list: typeof earliest, topic: string, partition: number): string =>
          (
            list.find((t) => t.name === topic)?.partitions.find((p) => p.partitionIndex === partition)
              ?.offset ?? 0n
          ).toString();
        return known.map((topic): TopicInfo => ({
          topic,
          partitions: (meta.topics.get(topic)?.partitions ?? []).map((p, partition) => ({
            partition,
            leader: p.leader,
            replicas: p.replicas,
            isr: p.isr,
            earliestOffset: offset(earliest, topic, partition),
            latestOffset: offset(latest, topic, partition),
          })),
        }));
      }),

    async missingTopics(topics: string[]) {
      const existing = new Set(await call('list the topics', ({ admin: a }) => a.listTopics()));
      return topics.filter((t) => !existing.has(t));
    },

    async committedOffsets(groupId: string, topics: string[]) {
      const [group] = await call('read committed offsets', ({ admin: a }) =>
        a.listConsumerGroupOffsets({ groups: [groupId] }),
      );
      const out = new Map<string, string | null>();
      const wanted = new Set(topics);
      for (const t of group?.topics ?? []) {
        if (!wanted.has(t.name)) continue;
        for (const p of t.partitions)
          out.set(
            tpKey(t.name, p.partitionIndex),
            p.committedOffset < 0n ? null : p.committedOffset.toString(),
          );
      }
      return out;
    },

    isUnreachable,

    async close() {
      const closing = [producer?.close(), admin?.close()];
      producer = null;
      admin = null;
      await Promise.all(closing);
    },
  };
}

/** Per partition: the messages fetched and not yet handed out, and whether a batch of it is running. */
interface Lane {
  topic: string;
  partition: number;
  queue: Message[];
  running: boolean;
  /** Set by a rewind: messages are dropped until this offset arrives (the refetch's first message). */
  awaiting: bigint | null;
  /** The offset after the last batch handed out (or where the stream started, at a join). */
  sent: bigint | null;
  /** The offset committed last by this session (or the stream's start, at a join). */
  committed: bigint | null;
  /**
   * The offset after the last message taken into the lane (or where a rewind or the stream's start put
   * it): an earlier one pushed again is one the lane already had.
   */
  fetched: bigint | null;
}

async function consume(
  options: PlatformaticClientOptions,
  base: Pick<BaseOptions, 'clientId' | 'bootstrapBrokers' | 'tls' | 'sasl'>,
  log: Logger,
  opts: ConsumeOptions,
): Promise<ConsumerSession> {
  const group =
    options.groupProtocol === 'consumer'
      ? { groupProtocol: 'consumer' as const, rebalanceTimeout: REBALANCE_TIMEOUT_MS }
      : {
          groupProtocol: 'classic' as const,
          sessionTimeout: options.sessionTimeoutMs,
          heartbeatInterval: options.heartbeatIntervalMs,
          rebalanceTimeout: REBALANCE_TIMEOUT_MS,
          // Asked for before every JoinGroup, the rejoins after a rebalance too: see holdRejoin below.
          protocolsMetadata: () => holdRejoin(),
        };
  const consumer = new Consumer({
    ...base,
    groupId: opts.groupId,
    ...group,
    ...(options.groupInstanceId === undefined ? {} : { groupInstanceId: options.groupInstanceId }),
    autocommit: false,
    maxWaitTime: options.maxWaitTimeMs,
    maxBytes: FETCH_MAX_BYTES,
    maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
  });
  const dead = Promise.withResolvers<Error>();
  let ended = false;
  const die = (err: Error, detail: string): void => {
    // A session that is leaving ends by leave(), whatever the library reports meanwhile (a rejoin it was
    // refused, see holdRejoin).
    if (ended || leaving) return;
    ended = true;
    opts.onHealth(false, detail);
    dead.resolve(err);
    // The engine joins again with a fresh consumer: this one must not come back on its own once the
    // broker answers again (its heartbeats would keep it in the group, holding partitions nobody reads).
    void consumer.close(true).catch((e: unknown) => log.debug({ err: e }, 'closing a dead consumer'));
  };

  const lanes = new Map<string, Lane>();
  let buffered = 0;
  let paused = false;
  let leaving = false;
  /**
   * Counts joins, and rebalances of the classic protocol: a batch started before the latest one is being
   * revoked. (A KIP-848 revocation takes single partitions: the processor cuts their batches.)
   */
  let epoch = 0;
  /** Dropping what the stream pushes until it has read the committed offsets after a join. */
  let refreshing = true;
  /**
   * The group is rebalancing (classic protocol): from the heartbeat that said so until the join that
   * follows, no batch starts, and from the moment the rejoin is let go (`rejoining`) no commit is sent.
   */
  let revoking = false;
  let rejoining = false;
  /** The last heartbeat's failure, if it failed (the coordinator does not answer): what a batch's heartbeat says. */
  let heartbeatError: Error | null = null;
  const running = new Set<Promise<void>>();
  /** The commits of start positions (commitStartPositions), one after the other. */
  let starting = Promise.resolve();
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;

  /** The last assignment told to the engine, so the KIP-848 path (no join event per change) tells each once. */
  let reported = '';
  const report = (assignments: readonly { topic: string; partitions: number[] }[]): void => {
    const assigned: Record<string, number[]> = {};
    for (const a of assignments) assigned[a.topic] = [...a.partitions];
    reported = JSON.stringify(assigned);
    opts.onAssigned(assigned, options.groupProtocol === 'consumer');
  };
  const revoked = new KmaintError('KAFKA_REBALANCE', 'the group is rebalancing', { retriable: true });
  /**
   * The lanes follow the assignment: a lane is made for each assigned partition when the stream has read
   * its start offset, and dropped with what it buffered once the partition is no longer assigned. Records
   * of a fetch sent before a rebalance can still be pushed after it; with no lane they are dropped, rather
   * than handled by a member the partition no longer belongs to (its new owner handles them too).
   */
  const syncLanes = (assignments: readonly { topic: string; partitions: number[] }[]): void => {
    const now = new Set(assignments.flatMap((a) => a.partitions.map((p) => tpKey(a.topic, p))));
    for (const [key, l] of lanes) {
      if (now.has(key)) continue;
      dropQueue(l);
      lanes.delete(key);
    }
    for (const { topic, partitions } of assignments) {
      for (const partition of partitions) {
        const key = tpKey(topic, partition);
        if (!lanes.has(key))
          lanes.set(key, {
            topic,
            partition,
            queue: [],
            running: false,
            awaiting: null,
            sent: null,
            committed: null,
            fetched: null,
          });
      }
    }
  };
  const dropQueue = (l: Lane): void => {
    buffered -= l.queue.length;
    l.queue = [];
  };
  /** The stream fetches while someone wants messages and the buffer has room. */
  const flow = (): void => {
    if (stream === null || leaving) return;
    const wanted = !paused && buffered < BUFFER_LIMIT;
    if (wanted && stream.isPaused()) stream.resume();
    else if (!wanted && !stream.isPaused()) stream.pause();
  };

  /** Where the stream fetches `l` from next: the first message the processor did not finish. */
  const rewind = (l: Lane, offset: bigint): void => {
    dropQueue(l);
    l.awaiting = offset;
    l.fetched = offset;
    stream?.offsetsToFetch.set(tpKey(l.topic, l.partition), offset);
  };

  /**
   * One dispatch after the stream has pushed a fetch's records (they come in one synchronous run), not one
   * per record: a batch then holds what the fetch brought.
   */
  let dispatchQueued = false;
  const dispatchSoon = (): void => {
    if (dispatchQueued) return;
    dispatchQueued = true;
    queueMicrotask(() => {
      dispatchQueued = false;
      dispatch();
    });
  };
  const dispatch = (): void => {
    if (paused || leaving || refreshing || revoking || rejoining) return;
    for (const l of lanes.values()) {
      if (running.size >= options.partitionsConsumedConcurrently) return;
      if (l.running || l.queue.length === 0) continue;
      const messages = l.queue.splice(0, BATCH_LIMIT);
      buffered -= messages.length;
      l.running = true;
      const started = epoch;
      // kafkajs' eachBatch contract: the next fetch starts where the handler left the partition; a batch
      // the handler did not take (a drain began) is fetched again.
      let next = messages[0]?.offset ?? 0n;
      const end = (messages.at(-1)?.offset ?? -1n) + 1n;
      l.sent = end;
      const generation = consumer.generationId;
      const batch = toBatch(l, messages, {
        consumer,
        isCurrent: () => epoch === started && !leaving,
        heartbeatError: () => heartbeatError,
        // Classic protocol: a commit goes out only in the generation the batch was fetched in, and not
        // once the rejoin was let go (the library would send a refused one again after its join, in the
        // new generation, for a partition that may be another member's by then).
        mayCommit: () =>
          !rejoining && (options.groupProtocol !== 'classic' || consumer.generationId === generation),
        revoked,
        onCommit: (topic, partition, offset) => {
          if (epoch === started || revoking) l.committed = BigInt(offset);
          opts.onCommit(topic, partition, offset);
        },
        seek: (offset) => {
          next = offset;
        },
      });
      const run = opts
        .onBatch(batch)
        .catch((err: unknown) => log.debug({ err, topic: l.topic, partition: l.partition }, 'batch ended'))
        .finally(() => {
          running.delete(run);
          l.running = false;
          // (Not for a partition revoked meanwhile: its lane is gone, its next owner fetches it.)
          if (epoch === started && !leaving && next < end && lanes.get(tpKey(l.topic, l.partition)) === l)
            rewind(l, next);
          commitPastMarkers(l);
          flow();
          dispatch();
        });
      running.add(run);
    }
    flow();
  };

  /**
   * The stream skips control records (transaction markers) and what aborted transactions wrote, but moves
   * its position past them; a batch ends at its last message. Once a partition's delivered messages are
   * all committed and nothing else came, whatever lies between the commit and the stream's position is
   * such records: commit that position, or a transactional topic would never reach lag 0 (its last
   * marker stays uncommitted).
   */
  const commitPastMarkers = (l: Lane): void => {
    if (stream === null || paused || leaving || refreshing || revoking || rejoining) return;
    if (l.running || l.queue.length > 0 || l.awaiting !== null || stream.readableLength > 0) return;
    const key = tpKey(l.topic, l.partition);
    const position = stream.offsetsToFetch.get(key);
    if (position === undefined || l.committed === null || l.sent !== l.committed) return;
    if (position <= l.committed) return;
    const started = epoch;
    const before = l.committed;
    l.committed = position;
    l.sent = position;
    const { topic, partition } = l;
    consumer.commit({ offsets: [{ topic, partition, offset: position, leaderEpoch: -1 }] }).then(
      () => opts.onCommit(topic, partition, position.toString()),
      (err: unknown) => {
        // Tried again after the next fetch or batch of this partition.
        if (epoch === started && l.committed === position && l.sent === position) {
          l.committed = before;
          l.sent = before;
        }
        log.debug({ err, topic, partition, offset: position.toString() }, 'committing past control records');
      },
    );
  };

  const onMessage = (m: Message<Buffer, Buffer, Buffer, Buffer>): void => {
    if (refreshing || leaving) return;
    const l = lanes.get(tpKey(m.topic, m.partition));
    if (l === undefined) return;
    if (l.awaiting !== null) {
      // Pushed by a fetch sent before the rewind: the stream moved its position past the rewind again.
      if (m.offset !== l.awaiting) {
        stream?.offsetsToFetch.set(tpKey(l.topic, l.partition), l.awaiting);
        return;
      }
      l.awaiting = null;
    } else if (l.fetched !== null && m.offset < l.fetched) return;
    l.fetched = m.offset + 1n;
    l.queue.push(m);
    buffered += 1;
    if (buffered >= BUFFER_LIMIT) flow();
    if (!l.running) dispatchSoon();
  };

  /**
   * The library rejoins the moment a heartbeat says the group is rebalancing, while the batches of the
   * old assignment still run: their commits would then fail, the newcomer would be given partitions whose
   * finished messages were never committed, and it would handle them again. kafkajs, like the Java
   * client, first lets the running batches stop (their heartbeat rejects), finish what they hold and
   * commit, then rejoins. The library asks for the subscription's user data (protocolsMetadata) before
   * every JoinGroup; that is where the rejoin waits for the batches, bounded well within the session
   * timeout, as no heartbeat goes out meanwhile. A member that is leaving does not rejoin at all (it
   * would be given partitions only to give them up again, and the group would rebalance twice).
   */
  const holdRejoin = async (): Promise<Buffer> => {
    if (running.size > 0) {
      revoking = true;
      epoch += 1;
      const holdMs = Math.max(0, options.sessionTimeoutMs - 2 * options.heartbeatIntervalMs);
      if (!(await settlesWithin(Promise.all(running), holdMs)))
        log.warn(
          { groupId: opts.groupId, holdMs },
          'batches still running at the rejoin; they will not commit',
        );
    }
    if (leaving) throw new KmaintError('KAFKA_LEAVING', 'the consumer is leaving the group; not rejoining');
    rejoining = true;
    return Buffer.alloc(0);
  };

  consumer.on('consumer:group:rebalance', () => {
    if (options.groupProtocol === 'classic') {
      epoch += 1;
      revoking = true;
      return;
    }
    // KIP-848: the library takes partitions away and acknowledges that with its next heartbeat, a
    // metadata request later, without waiting for the batches; commits sent now go first. Which
    // partitions it takes is known once it has updated its assignments (syncAssignment).
    opts.onRevoking();
  });
  consumer.on('consumer:heartbeat:error', (e: { error?: Error }) => {
    heartbeatError = e.error ?? new Error('heartbeat failed');
  });
  consumer.on('consumer:heartbeat:end', () => {
    heartbeatError = null;
  });
  consumer.on('consumer:group:join', (e) => {
    epoch += 1;
    revoking = false;
    rejoining = false;
    heartbeatError = null;
    // The stream reads the committed offsets again for the new assignment: what it pushed before belongs
    // to the old one.
    refreshing = true;
    for (const l of lanes.values()) {
      dropQueue(l);
      l.awaiting = null;
      l.fetched = null;
    }
    if (e.assignments !== undefined) report(e.assignments);
    opts.onHealth(true, `member of ${opts.groupId}`);
  });
  consumer.on('consumer:heartbeat:stalled', (e) => {
    log.warn({ groupId: opts.groupId, stalledFor: e.stalledFor }, 'the Kafka consumer stopped heartbeating');
    die(
      new KmaintError('KAFKA_CONSUMER_STALLED', `no heartbeat for ${e.stalledFor} ms`, {
        retriable: true,
        ...(e.lastError === undefined ? {} : { cause: e.lastError }),
      }),
      `consumer stalled: no heartbeat for ${e.stalledFor} ms`,
    );
  });
  // The library emits 'error' when a rejoin failed for good; unheard, an 'error' event would throw.
  consumer.on('error', (err: Error) => die(err, `consumer failed: ${err.message}`));

  try {
    stream = await consumer.consume({
      topics: opts.topics,
      mode: 'committed',
      fallbackMode: opts.fromBeginning ? 'earliest' : 'latest',
      autocommit: false,
      maxWaitTime: options.maxWaitTimeMs,
      maxBytes: FETCH_MAX_BYTES,
      maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
      ...(options.groupProtocol === 'classic'
        ? {
            sessionTimeout: options.sessionTimeoutMs,
            heartbeatInterval: options.heartbeatIntervalMs,
            rebalanceTimeout: REBALANCE_TIMEOUT_MS,
          }
        : {}),
    });
  } catch (err) {
    await consumer.close(true).catch(() => undefined);
    throw new KmaintError('KAFKA_CONSUME_FAILED', `could not join group ${opts.groupId}: ${message(err)}`, {
      retriable: true,
      cause: err,
    });
  }
  const s = stream;
  /**
   * With KIP-848 the assignment changes by heartbeat, partition by partition, with no join: tells the
   * engine each new one, and forgets what is buffered of partitions no longer assigned.
   */
  const syncAssignment = (): void => {
    const assignments = consumer.assignments ?? [];
    const now = Object.fromEntries(assignments.map((a) => [a.topic, [...a.partitions]]));
    if (JSON.stringify(now) !== reported) report(assignments);
    syncLanes(assignments);
  };
  s.on('offsets', () => {
    refreshing = false;
    // The stream reads the offsets of each newly assigned partition, which is when it is known here.
    if (options.groupProtocol === 'consumer') syncAssignment();
    else syncLanes(consumer.assignments ?? []);
    // Where the stream starts each assigned partition (the committed offset, or the fallback's): what
    // commitPastMarkers measures from.
    const starts: StartPosition[] = [];
    for (const l of lanes.values()) {
      const key = tpKey(l.topic, l.partition);
      if (l.fetched !== null) {
        // A partition kept through a KIP-848 assignment change: the stream has put every assigned
        // partition back at its committed offset, behind what this lane already took (and may be
        // handling): it goes on from where it was.
        s.offsetsToFetch.set(key, l.fetched);
        continue;
      }
      const offset = s.offsetsToFetch.get(key);
      if (offset === undefined) continue;
      l.fetched = offset;
      if (l.running || l.queue.length > 0 || l.awaiting !== null) continue;
      l.sent = offset;
      l.committed = offset;
      starts.push({ topic: l.topic, partition: l.partition, offset });
    }
    // Read now, before the first fetch moves them: a position read later could be past messages that
    // are buffered and not yet handled. A leave waits for the commit (a drain right after the join must
    // not go before the group has somewhere to come back to).
    if (!opts.fromBeginning)
      starting = starting.then(() => commitStartPositions(consumer, starts, opts.groupId, log));
    dispatchSoon();
  });
  if (options.groupProtocol === 'consumer') {
    // A revocation alone refreshes no offsets: the library updates its assignments and acknowledges them
    // with a heartbeat at once. That heartbeat's start is the first moment they can be seen: the
    // revoked partitions' batches are cut then, while the acknowledgement is on its way.
    const sync = (): void => {
      if (!refreshing && !leaving) syncAssignment();
    };
    consumer.on('consumer:heartbeat:start', sync);
    consumer.on('consumer:heartbeat:end', sync);
  }
  s.on('fetch', () => {
    // The records of this fetch are pushed right after the event: look at the positions once they are.
    process.nextTick(() => {
      for (const l of lanes.values()) commitPastMarkers(l);
    });
    // A fetch sent before a rewind moves the stream's position past it while its records are pushed:
    // put it back once they are (before the stream's next fetch, which is also a nextTick away).
    for (const l of lanes.values()) {
      if (l.awaiting !== null) {
        const { topic, partition, awaiting } = l;
        process.nextTick(() => s.offsetsToFetch.set(tpKey(topic, partition), awaiting));
      }
    }
  });
  s.on('data', onMessage);
  s.on('error', (err: Error) => die(err, `consumer failed: ${err.message}`));
  s.on('close', () => {
    if (!leaving)
      die(
        new KmaintError('KAFKA_CONSUMER_CLOSED', 'the message stream closed', { retriable: true }),
        'consumer stream closed',
      );
  });

  return {
    dead: dead.promise,
    pause: () => {
      paused = true;
      flow();
    },
    resume: () => {
      paused = false;
      flow();
      dispatch();
    },
    leave: async ({ remainInGroup = false } = {}) => {
      leaving = true;
      await Promise.all(running);
      await starting;
      await s.close().catch((err: unknown) => log.debug({ err }, 'closing the message stream'));
      if (options.groupInstanceId !== undefined && remainInGroup) {
        // A static member that leaves the group is removed from it, and its partitions move (a
        // rebalance): on a shutdown it goes quietly instead, and either comes back under the same id
        // within the session timeout (no rebalance) or is dropped when the session expires. The library
        // leaves only a member it has an id for, and stops heartbeating once leaveGroup() is called. A
        // drain sends LeaveGroup like any member (close below), so its partitions move at once.
        consumer.memberId = null;
        // (Its promise overload is shadowed in the typings by the callback one.)
        await new Promise<void>((resolve) => {
          consumer.leaveGroup(false, (err) => {
            if (err) log.debug({ err }, 'stopping the heartbeats');
            resolve();
          });
        });
      }
      await consumer.close(true);
      ended = true;
    },
  };
}

interface BatchDeps {
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>;
  /** False once a join or rebalance came after the batch started, or the session is leaving. */
  isCurrent: () => boolean;
  /** The library's last heartbeat failure, while its heartbeats fail. */
  heartbeatError: () => Error | null;
  /** False once a commit of this batch would land in another group generation than its own. */
  mayCommit: () => boolean;
  revoked: KmaintError;
  onCommit: ConsumeOptions['onCommit'];
  seek: (offset: bigint) => void;
}

function toBatch(l: Lane, messages: Message[], deps: BatchDeps): Batch {
  const { topic, partition } = l;
  const last = messages.at(-1);
  return {
    topic,
    partition,
    offsets: messages.map((m) => m.offset.toString()),
    message: (index) => toMessage(messages[index] as Message),
    key: (index) => messages[index]?.key ?? null,
    nextOffset: ((last?.offset ?? -1n) + 1n).toString(),
    // The library heartbeats on its own timer; what the processor needs to hear is a rebalance, and,
    // as from kafkajs, that the coordinator does not answer.
    heartbeat: () => {
      if (!deps.isCurrent()) return Promise.reject(deps.revoked);
      const failed = deps.heartbeatError();
      return failed === null ? Promise.resolve() : Promise.reject(failed);
    },
    isRevocation: (err) => err === deps.revoked,
    async commit(offset: string) {
      const what = `commit of ${topic}/${partition} at ${offset}`;
      if (!deps.mayCommit())
        throw new KmaintError('COMMIT_FAILED', `${what}: the group generation ended`, { retriable: false });
      try {
        await deps.consumer.commit({
          offsets: [{ topic, partition, offset: BigInt(offset), leaderEpoch: last?.leaderEpoch ?? -1 }],
        });
      } catch (err) {
        // As with kafkajs: a coordinator that moved or is loading is worth another try, and so is a broker
        // that does not answer (KAFKA_UNAVAILABLE, which the processor waits for outside a drain); a group
        // that moved on is not.
        if (isUnreachable(err))
          throw new KmaintError('KAFKA_UNAVAILABLE', `${what}: ${message(err)}`, {
            retriable: true,
            cause: err,
          });
        throw new KmaintError('COMMIT_FAILED', `${what}: ${message(err)}`, {
          retriable: retriableCause(err),
          cause: err,
        });
      }
      deps.onCommit(topic, partition, offset);
    },
    seekLocal(offset: string) {
      deps.seek(BigInt(offset));
    },
  };
}

function toMessage(m: Message): ConsumedMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of m.headers) headers[name.toString()] = value.toString();
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset.toString(),
    key: m.key ?? null,
    value: m.value ?? null,
    headers,
    timestamp: m.timestamp.toString(),
  };
}

/** Where the stream starts a partition after a join. */
interface StartPosition {
  topic: string;
  partition: number;
  offset: bigint;
}

/**
 * With fromBeginning false, a partition the group never committed starts at its end at every join: what
 * is produced while the member is away would be skipped. Committing where the stream started (its end)
 * gives the group a position to come back to, as the kafkajs adapter does.
 */
async function commitStartPositions(
  consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
  starts: readonly StartPosition[],
  groupId: string,
  log: Logger,
): Promise<void> {
  if (starts.length === 0) return;
  const topics = [...new Set(starts.map((p) => p.topic))].map((topic) => ({
    topic,
    partitions: starts.filter((p) => p.topic === topic).map((p) => p.partition),
  }));
  try {
    const committed = await consumer.listCommittedOffsets({ topics });
    const offsets = starts
      .filter((p) => (committed.get(p.topic)?.[p.partition] ?? -1n) < 0n)
      .map((p) => ({ ...p, leaderEpoch: -1 }));
    if (offsets.length > 0) await consumer.commit({ offsets });
  } catch (err) {
    log.warn({ err, groupId }, 'committing start positions failed');
  }
}

/** The library's connection-level failures (as opposed to a request the broker refused). */
function isUnreachable(err: unknown): boolean {
  for (const e of errorChain(err)) {
    const code = (e as { code?: unknown }).code;
    if (code === 'PLT_KFK_NETWORK' || code === 'PLT_KFK_TIMEOUT') return true;
    if (
      ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT', 'EPIPE'].includes(String(code))
    )
      return true;
  }
  return false;
}

/** A protocol error the broker says may go away (leader moved, coordinator loading, ...). */
function retriableCause(err: unknown): boolean {
  for (const e of errorChain(err)) if ((e as { canRetry?: unknown }).canRetry === true) return true;
  return false;
}

/** An unreachable broker or a retriable refusal is KAFKA_UNAVAILABLE (503, try again); others stay as they are. */
function asUnavailable(err: unknown, doing: string): unknown {
  if (err instanceof KmaintError) return err;
  if (isUnreachable(err) || retriableCause(err)) {
    return new KmaintError('KAFKA_UNAVAILABLE', `Kafka did not ${doing}: ${message(err)}`, {
      retriable: true,
      cause: err,
    });
  }
  return err;
}

/** The message of `err` with those of the attempts it gathers (the library's outer one says little). */
function message(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const inner = [...errorChain(err)].slice(1).map((e) => e.message);
  return [err.message, ...new Set(inner)].join(': ');
}

/**
 * One connection attempt at start, without retries: wrong TLS or SASL settings throw the KmaintError of
 * kafkaSettingsProblem; a broker that is down passes (an outage, which the engine rides out). With the
 * 'consumer' group protocol, a cluster that has not enabled it is refused here too: Kafka 3.9 advertises
 * ConsumerGroupHeartbeat but answers it with UNSUPPORTED_VERSION until `group.version` is finalized at 1
 * or more (the default from Kafka 4.0), and the library would retry that join forever.
 */
export async function checkPlatformaticAccess(
  access: Pick<PlatformaticClientOptions, 'brokers' | 'clientId' | 'tls' | 'sasl'> & {
    groupProtocol?: PlatformaticClientOptions['groupProtocol'] | undefined;
  },
): Promise<void> {
  const admin = new Admin({
    clientId: access.clientId,
    bootstrapBrokers: access.brokers,
    ...security(access),
    retries: 0,
  });
  // A broker that wants a client certificate refuses a missing one only after the TLS 1.3 handshake: the
  // library then fails the request with a bare "Connection closed", and the alert that says why goes to
  // the connection's own 'error' event, heard here.
  const dropped: Error[] = [];
  admin.on('client:broker:connect', ({ connection }: { connection: Connection }) => {
    connection.on('error', (err: Error) => dropped.push(err));
  });
  let groupVersion: number | undefined;
  try {
    await admin.metadata({ topics: [] });
    if (access.groupProtocol === 'consumer') groupVersion = await finalizedGroupVersion(admin);
  } catch (err) {
    const problem = kafkaSettingsProblem(
      dropped.length === 0 ? err : new AggregateError([err, ...dropped]),
      access,
    );
    if (problem) throw problem;
  } finally {
    await admin.close().catch(() => undefined);
  }
  if (groupVersion !== undefined && groupVersion < 1)
    throw new KmaintError(
      'KAFKA_CLIENT_UNSUPPORTED',
      `the consumer group protocol 'consumer' (KIP-848) is not enabled on this Kafka cluster (its feature group.version is ${groupVersion}; Kafka 4.0 and later enable it): use KAFKA_GROUP_PROTOCOL=classic, or enable it with kafka-features.sh upgrade --feature group.version=1`,
    );
}

/** The cluster's finalized `group.version` feature (0 when it is not finalized), from ApiVersions v3. */
async function finalizedGroupVersion(admin: Admin): Promise<number> {
  const connection = await new Promise<Connection>((resolve, reject) => {
    admin[kGetBootstrapConnection]((err, c) =>
      err || c === undefined ? reject(err ?? new Error('no connection')) : resolve(c),
    );
  });
  const versions = await apiVersionsV3.api.async(connection, 'kmaint', '1');
  return versions.finalizedFeatures?.find((f) => f.name === 'group.version')?.maxVersionLevel ?? 0;
}
