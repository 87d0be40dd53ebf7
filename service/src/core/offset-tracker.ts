/**
 * Tracks the messages of one partition between fetch and commit. Messages may finish out of order (several
 * workers, per-key ordering); the only offset that may be committed is the one right after the longest
 * run of finished messages from the start, so a restart never skips an unfinished or failed message.
 * Offsets are registered in ascending order but need not be contiguous (compacted topics, control records).
 */
export class OffsetTracker {
  readonly #offsets: bigint[] = [];
  readonly #state = new Map<bigint, 'pending' | 'done' | 'failed'>();
  /** Index into #offsets of the first message not done. */
  #cursor = 0;
  /** The offset after the last fetched record, when the batch ended past its last message. */
  #end: bigint | null = null;
  #committed: bigint | null = null;

  register(offset: bigint): void {
    const last = this.#offsets.at(-1);
    if (last !== undefined && offset <= last) {
      throw new RangeError(`offset ${offset} registered after ${last}: offsets must ascend`);
    }
    if (this.#end !== null && offset < this.#end) this.#end = null;
    this.#offsets.push(offset);
    this.#state.set(offset, 'pending');
  }

  /** Marks that the fetched range ends before `next`, so finishing everything may commit up to it. */
  setEnd(next: bigint): void {
    const last = this.#offsets.at(-1);
    if (last !== undefined && next <= last) throw new RangeError(`end ${next} is not after offset ${last}`);
    this.#end = next;
  }

  finish(offset: bigint): void {
    this.#mark(offset, 'done');
    while (
      this.#cursor < this.#offsets.length &&
      this.#state.get(this.#offsets[this.#cursor] as bigint) === 'done'
    ) {
      this.#cursor += 1;
    }
  }

  /** A message that neither succeeded nor reached the dead-letter topic: nothing at or after it commits. */
  fail(offset: bigint): void {
    this.#mark(offset, 'failed');
  }

  /**
   * The next offset to consume after the contiguous finished run, i.e. what a commit should carry; null
   * when nothing has finished since tracking began.
   */
  contiguous(): bigint | null {
    if (this.#offsets.length === 0) return null;
    if (this.#cursor === this.#offsets.length) return this.#end ?? (this.#offsets.at(-1) as bigint) + 1n;
    if (this.#cursor === 0) return null;
    return (this.#offsets[this.#cursor - 1] as bigint) + 1n;
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

  #mark(offset: bigint, state: 'done' | 'failed'): void {
    const current = this.#state.get(offset);
    if (current === undefined) throw new RangeError(`offset ${offset} was never registered`);
    if (current === 'done') return;
    this.#state.set(offset, state);
  }
}
