import { createServer } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { createConsumer } from '@kmaint/consumer';
import { probeHandler } from '@kmaint/consumer/http';
import { ConfigError, loadConfig, type LedgerConfig } from './config.ts';
import { ordersHandler } from './handler.ts';
import { Ledger } from './ledger.ts';

// Wires the environment, the ledger and the consumer together and owns the process: probes on HTTP_PORT,
// SIGTERM drains (in-flight orders finish and commit), then the ledger closes.

let config: LedgerConfig;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`orders-ledger: ${err.message}\n`);
  process.exit(2);
}

const logger = pino({ base: { service: 'orders-ledger', member: config.memberId } });
const ledger = new Ledger(join(config.ledgerDir, `${config.memberId}.sqlite`));
const consumer = createConsumer({
  kafka: { brokers: config.brokers, clientId: config.clientId },
  groupId: config.groupId,
  topics: config.topics,
  handler: ordersHandler(ledger),
  maintenance: { etcd: { endpoints: config.etcdEndpoints }, key: config.maintenanceKey },
  concurrency: config.concurrency,
  drainTimeoutMs: config.drainTimeoutMs,
  deadLetter: { topicSuffix: '.dlq' },
  memberId: config.memberId,
  ...(config.pod === undefined ? {} : { pod: config.pod }),
  logger,
});

const server = createServer(probeHandler(consumer));
await new Promise<void>((resolve) => server.listen(config.httpPort, '0.0.0.0', resolve));

let stopping = false;
const stop = (signal: string): void => {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'draining before exit');
  consumer
    .stop()
    .then(() => {
      ledger.close();
      server.close();
      logger.info('stopped cleanly');
      process.exit(0);
    })
    .catch((err: unknown) => {
      logger.error({ err }, 'stop failed');
      process.exit(1);
    });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

await consumer.start();
logger.info(
  { topics: config.topics, group: config.groupId, key: config.maintenanceKey },
  'orders-ledger consuming',
);
