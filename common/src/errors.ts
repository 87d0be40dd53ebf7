const BRAND = Symbol.for('kmaint.KmaintError');

/**
 * The one error type of kmaint. `code` is stable and machine-readable (metrics labels, API error bodies);
 * `retriable` tells a caller whether trying again can help (kopf's temporary vs permanent errors).
 */
export class KmaintError extends Error {
  /**
   * A published @kmaint/consumer carries its own compiled copy of this module, so an application can meet
   * KmaintErrors of two copies of the class; they are told apart by this registered brand, not by identity.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== KmaintError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KmaintError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** Whether an unknown thrown value says it may succeed when tried again; unknown errors are assumed so. */
export function isRetriable(err: unknown): boolean {
  return err instanceof KmaintError ? err.retriable : true;
}
