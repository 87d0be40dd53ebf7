import { ConfigError, helpText, loadConfig, type ServiceConfig } from './config.ts';
import { createConsumer, type Consumer } from '@kmaint/consumer';
import { exampleHandler } from './example-handler.ts';
import { buildApp } from './http/app.ts';
import { consumerServicePort } from './http/consumer-adapter.ts';
import { createLogger, type Logger } from './log.ts';
import { consumerOptions, sendAccess } from './options.ts';

/**
 * The one place that wires configuration, the @kmaint/consumer library and the HTTP API together and owns the process: signals, exit
 * codes, crashes.
 */

const EXIT_CONFIG = 2;
const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

/**
 * Part of the grace period kept for what follows the drain (commit, leaving the group, closing etcd and
 * HTTP), so the drain itself cannot use up the time Kubernetes allows before SIGKILL.
 */
function shutdownDrainBudget(config: ServiceConfig): number {
  const reserve = Math.min(5_000, config.shutdownGracePeriodMs / 4);
  return Math.min(config.drainTimeoutMs, config.shutdownGracePeriodMs - reserve);
}

function exitOnCrash(logger: Logger): void {
  // An unhandled rejection reaches here too (origin "unhandledRejection"): a consumer in an unknown state
  // must end and be restarted, not linger half-working in its group.
  process.on('uncaughtException', (err, origin) => {
    logger.fatal({ err, origin }, 'unhandled error; exiting');
    process.exit(1);
  });
}

function handleSignals(
  config: ServiceConfig,
  logger: Logger,
  consumer: Consumer,
  close: () => Promise<void>,
  onShutdown: () => void,
): void {
  let shuttingDown = false;
  const onSignal = (signal: keyof typeof SIGNAL_NUMBERS): void => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting at once');
      process.exit(128 + SIGNAL_NUMBERS[signal]);
    }
    shuttingDown = true;
    onShutdown();
    const started = Date.now();
    logger.info({ signal, gracePeriodMs: config.shutdownGracePeriodMs }, 'shutting down: draining first');
    setTimeout(() => {
      logger.error({ gracePeriodMs: config.shutdownGracePeriodMs }, 'shutdown exceeded the grace period');
      process.exit(1);
    }, config.shutdownGracePeriodMs).unref();
    consumer
      .stop({ timeoutMs: shutdownDrainBudget(config) })
      .then(close)
      .then(() => {
        logger.info({ durationMs: Date.now() - started }, 'shut down cleanly');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** Set once configuration is read; from then on every failure is a structured log line. */
let logger: Logger | undefined;

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }

  let config: ServiceConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\nRun with --help to list every variable and its default.\n`);
    process.exit(EXIT_CONFIG);
  }

  logger = createLogger({ level: config.logLevel, memberId: config.memberId });
  exitOnCrash(logger);
  const handler = exampleHandler(logger.child({ component: 'handler' }), {
    workTimeMs: config.simulatedWorkTimeMs,
  });
  const consumer = createConsumer(consumerOptions(config, { handler, logger }));
  let shuttingDown = false;
  const app = await buildApp({
    service: consumerServicePort(consumer, {
      drainTimeoutMs: config.drainTimeoutMs,
      shuttingDown: () => shuttingDown,
    }),
    topics: config.kafkaTopics,
    consumerGroup: config.consumerGroup,
    memberId: config.memberId,
    maintenanceKey: config.maintenanceKey,
    sendAccess: sendAccess(config),
    metrics: consumer.registry,
    logger,
  });
  // The HTTP server outlives the drain (Kubernetes removes the endpoint asynchronously): closed last.
  handleSignals(
    config,
    logger,
    consumer,
    () => app.close(),
    () => (shuttingDown = true),
  );

  // Listen before starting the consumer: /livez and /health answer while etcd or Kafka are still awaited.
  const address = await app.listen({ port: config.httpPort, host: '0.0.0.0' });
  logger.info(
    {
      address,
      brokers: config.kafkaBrokers,
      topics: config.kafkaTopics,
      group: config.consumerGroup,
      etcd: config.etcdEndpoints,
      key: config.maintenanceKey,
      messagesSend: config.messagesSend,
    },
    'kmaint service listening',
  );
  try {
    await consumer.start();
  } catch (err) {
    // A shutdown that begins during start may end it early; that is the shutdown's to report.
    if (shuttingDown) return;
    // The reason in the line itself: a start-up error is read in kubectl logs, not in a debugger.
    logger.fatal(
      { err },
      `the consumer failed to start: ${err instanceof Error ? err.message : String(err)}; exiting`,
    );
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  if (logger) logger.fatal({ err }, 'failed to start; exiting');
  else
    process.stderr.write(
      `kmaint-service failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  process.exit(1);
});
