/**
 * The one error type of kmaint. `code` is stable and machine-readable (metrics labels, API error bodies);
 * `retriable` tells a caller whether trying again can help (kopf's temporary vs permanent errors).
 */
export class KmaintError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KmaintError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/** Whether an unknown thrown value says it may succeed when tried again; unknown errors are assumed so. */
export function isRetriable(err: unknown): boolean {
  return err instanceof KmaintError ? err.retriable : true;
}
