/** Durations a test measures and reports (never asserts: speed belongs in bench/). */
export class Durations {
  readonly #measured: Record<string, number> = {};

  async time<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await fn();
    } finally {
      this.#measured[name] = Date.now() - started;
    }
  }

  record(name: string, ms: number): void {
    this.#measured[name] = ms;
  }

  report(title: string): void {
    console.log(`${title} durations (ms): ${JSON.stringify(this.#measured)}`);
  }
}
