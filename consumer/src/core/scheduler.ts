interface Queue<T> {
  items: T[];
  /** Index of the next item to run; items before it have started. */
  head: number;
}

/**
 * A bounded worker pool with ordered lanes: at most `capacity` items run at once, and items of one lane
 * (a partition, or a key within a partition) run one after another in submission order. Lanes take turns,
 * so one busy partition does not starve the others: an item may stand for several messages of its lane,
 * and its work hands back what is left of it when `contended` says another lane is waiting; the rest runs
 * first at its lane's next turn. Queued items can be cancelled (drain, rebalance). It runs for every
 * consumed message, so it keeps items in plain arrays and makes no promise per item: the `work` function
 * does its own bookkeeping and must not reject.
 */
export class LaneScheduler<T> {
  readonly #capacity: number;
  readonly #work: (item: T) => Promise<T | undefined>;
  readonly #queues = new Map<string, Queue<T>>();
  /** Lanes with queued work and nothing running, in the order they became ready. */
  readonly #ready = new Set<string>();
  readonly #busy = new Set<string>();

  /** `work` runs one item and resolves with the part of it still to run, if it stopped early. */
  constructor(capacity: number, work: (item: T) => Promise<T | undefined>) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
    this.#capacity = capacity;
    this.#work = work;
  }

  get running(): number {
    return this.#busy.size;
  }

  /** Whether a lane with queued work waits for a free slot (the pool is full). */
  get contended(): boolean {
    return this.#ready.size > 0;
  }

  submit(lane: string, item: T): void {
    const queue = this.#queues.get(lane);
    if (queue === undefined) this.#queues.set(lane, { items: [item], head: 0 });
    else queue.items.push(item);
    if (!this.#busy.has(lane)) this.#ready.add(lane);
    this.#pump();
  }

  /**
   * Drops every queued (not yet started) item and returns them; running ones go on, and what a running
   * one hands back afterwards is queued as usual (its work knows whether it was cut).
   */
  cancel(): T[] {
    const dropped: T[] = [];
    for (const queue of this.#queues.values()) {
      for (let i = queue.head; i < queue.items.length; i++) dropped.push(queue.items[i] as T);
    }
    this.#queues.clear();
    this.#ready.clear();
    return dropped;
  }

  #pump(): void {
    while (this.#busy.size < this.#capacity && this.#ready.size > 0) {
      const lane = this.#ready.values().next().value as string;
      this.#ready.delete(lane);
      const queue = this.#queues.get(lane);
      if (queue === undefined) continue;
      const item = queue.items[queue.head] as T;
      queue.head += 1;
      if (queue.head === queue.items.length) this.#queues.delete(lane);
      this.#busy.add(lane);
      this.#work(item).then(
        (rest) => this.#release(lane, rest),
        (err: unknown) => {
          this.#release(lane, undefined);
          // A broken `work` is a bug: surface it as an unhandled rejection rather than lose it.
          throw err;
        },
      );
    }
  }

  #release(lane: string, rest: T | undefined): void {
    this.#busy.delete(lane);
    if (rest !== undefined) {
      // Ahead of the lane's other items: it came before them.
      const queue = this.#queues.get(lane);
      if (queue === undefined) this.#queues.set(lane, { items: [rest], head: 0 });
      else if (queue.head > 0) queue.items[--queue.head] = rest;
      else queue.items.unshift(rest);
    }
    if (this.#queues.has(lane)) this.#ready.add(lane);
    this.#pump();
  }
}
