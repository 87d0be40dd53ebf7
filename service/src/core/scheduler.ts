export type Submitted<T> = { status: 'ran'; value: T } | { status: 'cancelled' };

interface Entry {
  job: () => Promise<unknown>;
  resolve: (outcome: Submitted<unknown>) => void;
  reject: (err: unknown) => void;
}

/**
 * A bounded worker pool with ordered lanes: at most `capacity` jobs run at once, and jobs of one lane
 * (a partition, or a key within a partition) run one after another in submission order. Lanes take turns,
 * so one busy partition does not starve the others. Queued jobs can be cancelled (drain, rebalance).
 */
export class LaneScheduler {
  readonly #capacity: number;
  readonly #queues = new Map<string, Entry[]>();
  /** Lanes with queued work and nothing running, in the order they became ready. */
  readonly #ready = new Set<string>();
  readonly #busy = new Set<string>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.#capacity = capacity;
  }

  get running(): number {
    return this.#busy.size;
  }

  submit<T>(lane: string, job: () => Promise<T>): Promise<Submitted<T>> {
    return new Promise<Submitted<T>>((resolve, reject) => {
      const queue = this.#queues.get(lane) ?? [];
      queue.push({ job, resolve: resolve as (o: Submitted<unknown>) => void, reject });
      this.#queues.set(lane, queue);
      if (!this.#busy.has(lane)) this.#ready.add(lane);
      this.#pump();
    });
  }

  /** Cancels every queued (not yet started) job; running ones go on. Returns how many were cancelled. */
  cancel(): number {
    let n = 0;
    for (const queue of this.#queues.values()) {
      for (const entry of queue) entry.resolve({ status: 'cancelled' });
      n += queue.length;
    }
    this.#queues.clear();
    this.#ready.clear();
    return n;
  }

  #pump(): void {
    while (this.#busy.size < this.#capacity && this.#ready.size > 0) {
      const lane = this.#ready.values().next().value as string;
      this.#ready.delete(lane);
      const queue = this.#queues.get(lane);
      const entry = queue?.shift();
      if (queue !== undefined && queue.length === 0) this.#queues.delete(lane);
      if (entry === undefined) continue;
      this.#busy.add(lane);
      void this.#run(lane, entry);
    }
  }

  async #run(lane: string, entry: Entry): Promise<void> {
    try {
      entry.resolve({ status: 'ran', value: await entry.job() });
    } catch (err) {
      entry.reject(err);
    } finally {
      this.#busy.delete(lane);
      if (this.#queues.has(lane)) this.#ready.add(lane);
      this.#pump();
    }
  }
}
