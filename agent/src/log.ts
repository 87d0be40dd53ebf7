import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.ts';

/** JSON lines on stdout with ISO times, every line tagged with the member id (as the service logs). */
export function createLogger(level: LogLevel, memberId: string): Logger {
  return pino(
    {
      level,
      base: { service: 'kmaint-agent', member: memberId },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: 1, sync: true }),
  );
}
