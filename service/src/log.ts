import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: LogLevel;
  memberId: string;
  /** Where lines go; stdout when omitted. Tests pass a stream to read them. */
  destination?: pino.DestinationStream;
}

const REDACTED = [
  'req.headers.authorization',
  'request.headers.authorization',
  'headers.authorization',
  'config.messagesSendToken',
  'config.etcdPassword',
  'config.kafkaSaslPassword',
  'messagesSendToken',
  'etcdPassword',
  'kafkaSaslPassword',
  'sasl.password',
  'kafka.sasl.password',
];

/**
 * The service's one structured logger: JSON lines on stdout (what Kubernetes collects), ISO timestamps,
 * every line tagged with the member id so lines from several pods can be told apart once aggregated.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      // Credentials never reach a log line, whoever logs a request, its headers or the configuration.
      redact: { paths: REDACTED, censor: '[redacted]' },
      base: { service: 'kmaint-service', member: options.memberId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
