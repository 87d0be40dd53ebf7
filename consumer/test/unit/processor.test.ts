import { KmaintError } from '@kmaint/common';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConsumedMessage, MessageHandler } from '../../src/handler.ts';
import type { Batch, OutgoingMessage } from '../../src/kafka/client.ts';
import { Processor, type ProcessorOptions } from '../../src/kafka/processor.ts';
import type { RecordedError } from '../../src/core/types.ts';

const logger = pino({ level: 'silent' });

function message(offset: number, key: string | null = null): ConsumedMessage {
  return {
    topic: 't',
    partition: 0,
    offset: String(offset),
    key: key === null ? null : Buffer.from(key),
    value: Buffer.from(`v${offset}`),
    headers: { origin: 'test' },
    timestamp: '0',
  };
}

interface FakeBatch extends Batch {
  commits: string[];
  sought: string[];
}

function batch(
  messages: ConsumedMessage[],
  heartbeat: () => Promise<void> = async () => undefined,
): FakeBatch {
  const commits: string[] = [];
  const sought: string[] = [];
  return {
    topic: 't',
    partition: 0,
    offsets: messages.map((m) => m.offset),
    message: (index) => messages[index] as ConsumedMessage,
    key: (index) => messages[index]?.key ?? null,
    nextOffset: String(Number(messages.at(-1)?.offset ?? -1) + 1),
    heartbeat,
    isRevocation: (err) => err instanceof Error && err.message === 'rebalancing',
    commit: async (o) => void commits.push(o),
    seekLocal: (o) => void sought.push(o),
    commits,
    sought,
  };
}

/** Polls a condition between event-loop turns, failing after 2 s. */
async function until(cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 1));
  }
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const base: ProcessorOptions = {
  maxWorkers: 4,
  maxProcessingTimeMs: 10_000,
  retryBackoffMs: 1,
  maxRetries: 2,
  dlqTopicSuffix: '.dlq',
  orderBy: 'key',
  commitEveryMessages: 1,
  autoCommitIntervalMs: null,
  heartbeatIntervalMs: 50,
};

function processor(
  handler: MessageHandler,
  produce = async (_t: string, _m: OutgoingMessage) => ({ topic: 'x', partition: 0, offset: '0' }),
  options: Partial<ProcessorOptions> = {},
) {
  const outcomes: string[] = [];
  const errors: RecordedError[] = [];
  const p = new Processor(
    { ...base, ...options },
    {
      handler,
      produce,
      logger,
      onReceived: (_t, _p, offsets) => offsets.forEach((o) => outcomes.push(`received@${o}`)),
      onMessage: (outcome, _t, _p, offset) => void outcomes.push(`${outcome}@${offset}`),
      onError: (e) => void errors.push(e),
    },
  );
  return { p, outcomes, errors };
}

describe('Processor', () => {
  it('never commits past an unfinished message when later keys finish first', async () => {
    const gates = new Map([[0, gate()]]);
    const { p, outcomes } = processor(async (m) => {
      await gates.get(Number(m.offset))?.wait;
    });
    const b = batch([message(0, 'a'), message(1, 'b'), message(2, 'c')]);
    const run = p.handleBatch(b);
    await until(() => outcomes.includes('processed@1') && outcomes.includes('processed@2'));
    expect(b.commits).toEqual([]);
    gates.get(0)?.open();
    await run;
    expect(b.commits.at(-1)).toBe('3');
    expect(b.commits.every((c) => c === '3')).toBe(true);
  });

  it('a message that keeps failing is retried, dead-lettered with headers, and then committed past', async () => {
    const sent: { topic: string; message: OutgoingMessage }[] = [];
    const { p, outcomes } = processor(
      async (m) => {
        if (m.offset === '1') throw new Error('poison');
      },
      async (topic, msg) => {
        sent.push({ topic, message: msg });
        return { topic, partition: 0, offset: '0' };
      },
    );
    const b = batch([message(0), message(1), message(2)]);
    await p.handleBatch(b);
    expect(outcomes.filter((o) => o === 'retried@1')).toHaveLength(2);
    expect(outcomes).toContain('failed@1');
    expect(outcomes).toContain('deadLettered@1');
    expect(sent).toHaveLength(1);
    expect(sent[0]?.topic).toBe('t.dlq');
    expect(sent[0]?.message.headers).toMatchObject({
      origin: 'test',
      'kmaint-dlq-reason': 'poison',
      'kmaint-original-topic': 't',
      'kmaint-original-partition': '0',
      'kmaint-original-offset': '1',
      'kmaint-attempts': '3',
    });
    expect(b.commits.at(-1)).toBe('3');
  });

  it('a handler error marked not retriable is dead-lettered at once, with its code and reason', async () => {
    const sent: OutgoingMessage[] = [];
    const { p, outcomes } = processor(
      async (m) => {
        if (m.offset === '0') throw new KmaintError('INVALID_ORDER', 'not JSON', { retriable: false });
      },
      async (topic, msg) => {
        sent.push(msg);
        return { topic, partition: 0, offset: '0' };
      },
    );
    const b = batch([message(0), message(1)]);
    await p.handleBatch(b);
    expect(outcomes.filter((o) => o.startsWith('retried'))).toEqual([]);
    expect(outcomes).toContain('deadLettered@0');
    expect(sent[0]?.headers).toMatchObject({
      'kmaint-dlq-reason': 'not JSON',
      'kmaint-dlq-error-code': 'INVALID_ORDER',
      'kmaint-attempts': '1',
    });
    expect(b.commits.at(-1)).toBe('2');
  });

  it('when the dead-letter topic refuses, commits stop before the failed message', async () => {
    const { p } = processor(
      async (m) => {
        if (m.offset === '1') throw new Error('poison');
      },
      async () => {
        throw new Error('dlq down');
      },
    );
    const b = batch([message(0), message(1), message(2)]);
    await p.handleBatch(b);
    expect(b.commits.at(-1)).toBe('1');
    expect(b.sought.at(-1)).toBe('1');
  });

  it('defect 8: with the dead-letter topic down, a failed message blocks its partition: later messages are not processed past it, the refetch waits, and the block is reported', async () => {
    const { p, outcomes } = processor(
      async (m) => {
        if (m.offset === '1') throw new Error('poison');
      },
      async () => {
        throw new Error('dlq down');
      },
      { orderBy: 'partition', retryBackoffMs: 1, maxRetries: 1 },
    );
    // What a refetch after each failure delivers again: the failed message and everything after it.
    for (let refetch = 0; refetch < 3; refetch++) {
      const b = batch([message(1), message(2), message(3)]);
      await p.handleBatch(b);
      expect(b.commits.every((c) => c === '1')).toBe(true);
    }
    expect(outcomes.filter((o) => o === 'processed@2')).toEqual([]);
    expect(p.blocked()).toMatchObject([{ topic: 't', partition: 0, offset: '1' }]);
  });

  it('a drain timeout aborts in-flight handlers and leaves them uncommitted', async () => {
    const { p, outcomes } = processor(async (m, { signal }) => {
      if (m.offset === '1')
        await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    });
    const b = batch([message(0, 'a'), message(1, 'b'), message(2, 'c')]);
    const run = p.handleBatch(b);
    await until(() => outcomes.includes('processed@2') && p.inFlight === 1);
    const outcome = await p.drain(30);
    await run;
    expect(outcome).toEqual({ timedOut: true, leftInFlight: 1 });
    expect(outcomes).toContain('aborted@1');
    expect(b.commits.at(-1)).toBe('1');
  });

  it('an incremental assignment (KIP-848) cuts only the batches of the partitions taken away; the others finish and commit', async () => {
    const g = gate();
    const { p, outcomes } = processor(
      async (m) => {
        if (m.offset === '0') await g.wait;
      },
      undefined,
      { orderBy: 'partition' },
    );
    p.assigned({ t: [0, 1] }, true);
    const kept = batch([message(0), message(1), message(2)]);
    const taken = { ...batch([message(0), message(1), message(2)]), partition: 1 };
    const runs = [p.handleBatch(kept), p.handleBatch(taken)];
    await until(() => p.inFlight === 2);
    p.assigned({ t: [0] }, true);
    g.open();
    await Promise.all(runs);
    expect(kept.commits.at(-1)).toBe('3');
    // Its message in flight finished and is committed; the two after it are the next owner's.
    expect(taken.commits).toEqual(['1']);
    expect(outcomes.filter((o) => o === 'processed@2')).toHaveLength(1);
  });

  it('commitFinished() commits what a running batch has finished, before the batch ends', async () => {
    const g = gate();
    const { p, outcomes } = processor(
      async (m) => {
        if (m.offset === '1') await g.wait;
      },
      undefined,
      { orderBy: 'partition', commitEveryMessages: 1_000 },
    );
    const b = batch([message(0), message(1), message(2)]);
    const run = p.handleBatch(b);
    await until(() => outcomes.includes('processed@0'));
    expect(b.commits).toEqual([]);
    p.commitFinished();
    await until(() => b.commits.length === 1);
    expect(b.commits).toEqual(['1']);
    g.open();
    await run;
    expect(b.commits.at(-1)).toBe('3');
  });

  it('a rejected heartbeat (rebalance) stops the batch, commits what finished and rethrows', async () => {
    const g = gate();
    const { p } = processor(
      async (m) => {
        if (m.offset === '0') await g.wait;
      },
      undefined,
      { orderBy: 'partition' },
    );
    const rebalance = new Error('rebalancing');
    const b = batch([message(0), message(1), message(2)], async () => {
      g.open();
      throw rebalance;
    });
    await expect(p.handleBatch(b)).rejects.toBe(rebalance);
    expect(b.commits).toEqual(['1']);
    // Batches still queued from the old generation are left alone until the group assigns again.
    const stale = batch([message(1)]);
    await p.handleBatch(stale);
    expect(stale.commits).toEqual([]);
    p.assigned();
    const fresh = batch([message(1)]);
    await p.handleBatch(fresh);
    expect(fresh.commits).toEqual(['2']);
  });

  it(
    'processing generation per session: a handler left behind by a drain that finishes after the resume does not commit for its old batch',
    { timeout: 15_000 },
    async () => {
      const stuck = gate();
      let firstOfOne = true;
      const { p, outcomes } = processor(async (m) => {
        // The first attempt at offset 1 ignores its abort signal and finishes only when the test says so.
        if (m.offset === '1' && firstOfOne) {
          firstOfOne = false;
          await stuck.wait;
        }
      });
      p.assigned();
      const old = batch([message(0, 'a'), message(1, 'b'), message(2, 'c')]);
      const run = p.handleBatch(old);
      await until(() => outcomes.includes('processed@0') && outcomes.includes('processed@2'));
      // A pause-mode drain times out and leaves the stuck handler behind; the window ends, the same
      // consumer resumes and the new session processes the partition from the first unfinished offset.
      const outcome = await p.drain(10);
      expect(outcome).toEqual({ timedOut: true, leftInFlight: 1 });
      await run;
      expect(old.commits.at(-1)).toBe('1');
      p.reopen();
      const next = batch([1, 2, 3, 4, 5].map((o) => message(o, `k${o}`)));
      await p.handleBatch(next);
      expect(next.commits.at(-1)).toBe('6');
      const oldCommitsBefore = old.commits.length;
      stuck.open();
      await until(() => outcomes.filter((o) => o === 'processed@1').length === 2);
      await new Promise(setImmediate);
      // Committing the old batch's now contiguous '3' would move the group back from 6 to 3.
      expect(old.commits.slice(oldCommitsBefore), 'the old session committed after the new one').toEqual([]);
    },
  );

  it('defect 11: a drain is bounded when commits hang', async () => {
    const { p } = processor(async () => undefined, undefined, { orderBy: 'partition' });
    const b = batch([message(0), message(1)]);
    b.commit = () => new Promise<void>(() => undefined);
    const run = p.handleBatch(b);
    const outcome = await p.drain(20);
    expect(outcome.timedOut).toBe(true);
    void run;
  });

  it('defect 9: a revocation cuts the retries and backoff of a failing message: aborted, not dead-lettered by a member that lost its partition', async () => {
    const sent: string[] = [];
    const { p, outcomes } = processor(
      async () => {
        throw new Error('slow poison');
      },
      async (topic) => {
        sent.push(topic);
        return { topic, partition: 0, offset: '0' };
      },
      { orderBy: 'partition', maxRetries: 8, retryBackoffMs: 1, heartbeatIntervalMs: 5 },
    );
    const rebalance = new Error('rebalancing');
    let beats = 0;
    const b = batch([message(0)], async () => {
      beats += 1;
      if (beats >= 2) throw rebalance;
    });
    await expect(p.handleBatch(b)).rejects.toBe(rebalance);
    expect(outcomes).toContain('aborted@0');
    expect(outcomes).not.toContain('deadLettered@0');
    expect(sent).toEqual([]);
    expect(b.commits).toEqual([]);
  });

  it('with auto-commit, commits on the interval rather than per message, and always at the batch end', async () => {
    const { p } = processor(async () => undefined, undefined, {
      autoCommitIntervalMs: 60_000,
      commitEveryMessages: 1,
    });
    const b = batch([message(0), message(1), message(2)]);
    await p.handleBatch(b);
    expect(b.commits).toEqual(['3']);
  });

  it('MAX_PROCESSING_TIME aborts a slow attempt, which then counts as a failure and is retried', async () => {
    let attempts = 0;
    const { p, outcomes } = processor(
      async (_m, { signal }) => {
        attempts += 1;
        if (attempts === 1)
          await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      },
      undefined,
      { maxProcessingTimeMs: 20 },
    );
    const b = batch([message(0)]);
    await p.handleBatch(b);
    expect(outcomes).toEqual(['received@0', 'retried@0', 'processed@0']);
    expect(b.commits).toEqual(['1']);
  });

  it('a handler that ignores its abort is left behind after a grace period; its batch still commits', async () => {
    const { p } = processor(async (m) => {
      if (m.offset === '1') await new Promise(() => undefined);
    });
    const b = batch([message(0, 'a'), message(1, 'b')]);
    const run = p.handleBatch(b);
    await until(() => p.inFlight === 1);
    expect(await p.drain(10)).toEqual({ timedOut: true, leftInFlight: 1 });
    await run;
    expect(b.commits.at(-1)).toBe('1');
    p.reopen();
    expect(p.inFlight).toBe(0);
  });

  it('a batch from an older generation neither commits nor stops the current one', async () => {
    const g = gate();
    const { p } = processor(async (m) => {
      if (m.offset === '0') await g.wait;
    });
    let reject = false;
    let rejected = 0;
    const old = batch([message(0, 'a'), message(1, 'b')], async () => {
      if (!reject) return;
      rejected += 1;
      throw new Error('rebalancing');
    });
    const running = p.handleBatch(old);
    await until(() => p.inFlight === 1);
    p.assigned();
    reject = true;
    // The late rejection reaches the old batch only: the new generation keeps going.
    await until(() => rejected >= 1);
    await new Promise((r) => setImmediate(r));
    const fresh = batch([message(5)]);
    await p.handleBatch(fresh);
    expect(fresh.commits).toEqual(['6']);
    g.open();
    await running;
    expect(old.commits).toEqual([]);
    expect(old.sought).toEqual([]);
  });

  it('a heartbeat failure that is no rebalance is recorded and the batch carries on', async () => {
    let beats = 0;
    const errors: string[] = [];
    const p = new Processor(
      { ...base, orderBy: 'partition', heartbeatIntervalMs: 5 },
      {
        handler: async () => {
          await until(() => beats >= 2);
        },
        produce: async () => ({ topic: 'x', partition: 0, offset: '0' }),
        logger,
        onReceived: () => undefined,
        onMessage: () => undefined,
        onError: (e) => errors.push(e.code),
      },
    );
    const b = batch([message(0), message(1)], async () => {
      beats += 1;
      throw new Error('connection reset');
    });
    await p.handleBatch(b);
    expect(b.commits.at(-1)).toBe('2');
    expect(errors).toContain('HEARTBEAT_FAILED');
  });

  it('with partition ordering, a drain lets the running message finish and starts none after it', async () => {
    const g = gate();
    const { p, outcomes } = processor(
      async (m) => {
        if (m.offset === '0') await g.wait;
      },
      undefined,
      { orderBy: 'partition' },
    );
    const b = batch([message(0), message(1), message(2)]);
    const run = p.handleBatch(b);
    await until(() => p.inFlight === 1);
    const draining = p.drain(5_000);
    g.open();
    expect(await draining).toEqual({ timedOut: false, leftInFlight: 0 });
    await run;
    expect(outcomes.filter((o) => o.startsWith('processed'))).toEqual(['processed@0']);
    expect(b.commits.at(-1)).toBe('1');
    expect(b.sought.at(-1)).toBe('1');
  });

  it('a handler that finishes at once: the batch commits once, at its end, however often a commit fell due', async () => {
    const { p } = processor(async () => undefined, undefined, { orderBy: 'partition' });
    const b = batch(Array.from({ length: 50 }, (_, i) => message(i)));
    await p.handleBatch(b);
    await new Promise((r) => setImmediate(r));
    expect(b.commits).toEqual(['50']);
  });

  it('a batch commit that fails retriably (the coordinator moved) is sent again, with everything finished', async () => {
    const { p, errors } = processor(async () => undefined, undefined, { orderBy: 'partition' });
    const b = batch(Array.from({ length: 50 }, (_, i) => message(i)));
    const commit = b.commit;
    let failures = 1;
    b.commit = async (offset) => {
      if (failures-- > 0)
        throw new KmaintError('COMMIT_FAILED', 'This is not the correct coordinator for this group', {
          retriable: true,
        });
      await commit(offset);
    };
    await p.handleBatch(b);
    expect(errors.map((e) => e.code)).toEqual(['COMMIT_FAILED']);
    expect(b.commits).toEqual(['50']);
  });

  it('a batch commit to a broker that does not answer is sent again past the coordinator-move tries, until it is back', async () => {
    const { p, errors } = processor(async () => undefined, undefined, {
      orderBy: 'partition',
      retryBackoffMs: 1,
    });
    const b = batch(Array.from({ length: 50 }, (_, i) => message(i)));
    const commit = b.commit;
    let failures = 11;
    b.commit = async (offset) => {
      if (failures-- > 0)
        throw new KmaintError('KAFKA_UNAVAILABLE', 'Connection error: connect ECONNREFUSED', {
          retriable: true,
        });
      await commit(offset);
    };
    await p.handleBatch(b);
    expect(errors).toHaveLength(11);
    expect(b.commits).toEqual(['50']);
  });

  it('a drain does not wait for a broker that does not answer: its commit is left', async () => {
    const { p } = processor(async () => undefined, undefined, { orderBy: 'partition', retryBackoffMs: 1 });
    const b = batch(Array.from({ length: 5 }, (_, i) => message(i)));
    let tries = 0;
    b.commit = async () => {
      tries += 1;
      p.beginStop();
      throw new KmaintError('KAFKA_UNAVAILABLE', 'Connection error: connect ECONNREFUSED', {
        retriable: true,
      });
    };
    await p.handleBatch(b);
    expect(tries).toBe(1);
  });

  it('a batch commit the group refused (it moved on) is not sent again', async () => {
    const { p } = processor(async () => undefined, undefined, { orderBy: 'partition' });
    const b = batch(Array.from({ length: 5 }, (_, i) => message(i)));
    let tries = 0;
    b.commit = async () => {
      tries += 1;
      throw new KmaintError('COMMIT_FAILED', 'The group is rebalancing, so a rejoin is needed', {
        retriable: false,
      });
    };
    await p.handleBatch(b);
    expect(tries).toBe(1);
  });

  it('a handler that lets the event loop turn gets commits while its batch runs, each past finished messages only', async () => {
    const done: number[] = [];
    const { p } = processor(
      async (m) => {
        await new Promise((r) => setImmediate(r));
        done.push(Number(m.offset));
      },
      undefined,
      { orderBy: 'partition', commitEveryMessages: 2 },
    );
    const b = batch(Array.from({ length: 8 }, (_, i) => message(i)));
    const committedWhileRunning: boolean[] = [];
    const commit = b.commit;
    b.commit = async (offset) => {
      committedWhileRunning.push(done.length < 8);
      expect(Number(offset)).toBeLessThanOrEqual(done.length);
      await commit(offset);
    };
    await p.handleBatch(b);
    expect(committedWhileRunning.filter(Boolean).length).toBeGreaterThan(0);
    expect(b.commits.map(Number)).toEqual([...b.commits.map(Number)].sort((x, y) => x - y));
    expect(b.commits.at(-1)).toBe('8');
  });

  it('with fewer workers than partitions, partitions take turns message by message', async () => {
    const order: string[] = [];
    const { p } = processor(
      async (m) => {
        order.push(`${m.partition}:${m.offset}`);
        await Promise.resolve();
      },
      undefined,
      { orderBy: 'partition', maxWorkers: 1 },
    );
    const other = (offset: number): ConsumedMessage => ({ ...message(offset), partition: 1 });
    const b1 = { ...batch([other(0), other(1), other(2)]), partition: 1 };
    await Promise.all([p.handleBatch(batch([message(0), message(1), message(2)])), p.handleBatch(b1)]);
    expect(order).toEqual(['0:0', '1:0', '0:1', '1:1', '0:2', '1:2']);
  });

  it('takes no batches while stopped and again after reopen', async () => {
    const seen: string[] = [];
    const { p } = processor(async (m) => void seen.push(m.offset));
    p.beginStop();
    await p.handleBatch(batch([message(0)]));
    expect(seen).toEqual([]);
    p.reopen();
    await p.handleBatch(batch([message(0)]));
    expect(seen).toEqual(['0']);
  });
});
