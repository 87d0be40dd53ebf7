// A consumer written against the installed @kmaint/consumer only, as an application would. It prints one
// JSON line per event so the test can follow it, and serves the probes on PORT.
import { createServer } from 'node:http';
import process from 'node:process';
import { createConsumer } from '@kmaint/consumer';
import { probeHandler } from '@kmaint/consumer/http';

const env = process.env;
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const consumer = createConsumer({
  kafka: { brokers: env.BROKERS.split(','), clientId: env.MEMBER_ID },
  groupId: env.GROUP,
  topics: [env.TOPIC],
  handler: async (message, { signal }) => {
    signal.throwIfAborted();
    say({ event: 'processed', value: message.value.toString() });
  },
  maintenance: { etcd: { endpoints: env.ETCD.split(',') }, key: env.KEY },
  concurrency: 3,
  drainTimeoutMs: 10_000,
  memberId: env.MEMBER_ID,
});
consumer.on('transition', ({ from, to }) => say({ event: 'transition', from, to }));

const server = createServer(probeHandler(consumer));
await new Promise((resolve) => server.listen(Number(env.PORT), '127.0.0.1', resolve));
await consumer.start();
say({ event: 'started', state: consumer.state, node: process.version });

process.once('SIGTERM', () => {
  consumer
    .stop()
    .then(() => {
      say({ event: 'stopped', live: consumer.health().live });
      server.close();
      process.exit(0);
    })
    .catch((err) => {
      say({ event: 'stopFailed', error: String(err) });
      process.exit(1);
    });
});
