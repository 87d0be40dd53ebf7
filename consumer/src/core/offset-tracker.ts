/** Per-message states; 0 (a fresh Uint8Array) means pending. */
const DONE = 1;
const FAILED = 2;

/** Orders non-negative decimal offsets without parsing them (no leading zeros, as Kafka writes them). */
function before(a: string, b: string): boolean {
  return a.length === b.length ? a < b : a.length < b.length;
}

/**
 * Tracks the messages of one fetched batch of one partition between fetch and commit. Messages may finish
 * out of order (several workers, per-key ordering); the only offset that may be committed is the one right
 * after the longest run of finished messages from the start, so a restart never skips an unfinished or
 * failed message. Offsets ascend but need not be contiguous (compacted topics, control records); messages
 * are named by their index in the batch, and offsets stay strings until a commit needs one, because this
 * runs once per consumed message.
 */
export class OffsetTracker {
  readonly #offsets: readonly string[];
  readonly #state: Uint8Array;
  /** Index of the first message not done. */
  #cursor = 0;
  /** The offset after the last fetched record (it may lie past the last message). */
  readonly #end: bigint;
  #committed: bigint | null = null;

  /** `offsets` of the batch's messages in order; `end`: the offset after the batch. */
  constructor(offsets: readonly string[], end: string) {
    for (let i = 1; i < offsets.length; i++) {
      if (!before(offsets[i - 1] as string, offsets[i] as string)) {
        throw new RangeError(`offset ${offsets[i]} follows ${offsets[i - 1]}: offsets must ascend`);
      }
    }
    const last = offsets.at(-1);
    if (last !== undefined && !before(last, end))
      throw new RangeError(`end ${end} is not after offset ${last}`);
    this.#offsets = offsets;
    this.#state = new Uint8Array(offsets.length);
    this.#end = BigInt(end);
  }

  /** The message at `index` finished (processed or dead-lettered). */
  finish(index: number): void {
    this.#check(index);
    this.#state[index] = DONE;
    while (this.#cursor < this.#offsets.length && this.#state[this.#cursor] === DONE) this.#cursor += 1;
  }

  /** A message that neither succeeded nor reached the dead-letter topic: nothing at or after it commits. */
  fail(index: number): void {
    this.#check(index);
    if (this.#state[index] !== DONE) this.#state[index] = FAILED;
  }

  /**
   * The next offset to consume after the contiguous finished run, i.e. what a commit should carry; null
   * when nothing has finished since tracking began.
   */
  contiguous(): bigint | null {
    if (this.#offsets.length === 0 || this.#cursor === 0) return null;
    if (this.#cursor === this.#offsets.length) return this.#end;
    return BigInt(this.#offsets[this.#cursor - 1] as string) + 1n;
  }

  /** The offset to commit now, or null if it would not move the committed offset forward. */
  pendingCommit(): bigint | null {
    const next = this.contiguous();
    if (next === null) return null;
    if (this.#committed !== null && next <= this.#committed) return null;
    return next;
  }

  markCommitted(offset: bigint): void {
    if (this.#committed === null || offset > this.#committed) this.#committed = offset;
  }

  #check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.#offsets.length) {
      throw new RangeError(`message ${index} is not in this batch of ${this.#offsets.length}`);
    }
  }
}
