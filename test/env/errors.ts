/** Every failure of the test environment names what failed (code) and whether trying again may help. */
export class EnvError extends Error {
  readonly code: string;
  readonly retriable: boolean;

  constructor(code: string, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'EnvError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}
