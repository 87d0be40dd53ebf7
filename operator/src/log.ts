import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** JSON lines on stdout with ISO times, tagged with the instance identity (two replicas, one stream). */
export function createLogger(level: string, identity: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      // `component` is left to child loggers (controller, etcd, ...): a key appears once per line.
      base: { service: 'kmaint-operator', instance: identity },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
