import { chownSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { uniqueName, waitFor } from '../env/helpers.ts';
import { kubectl } from '../env/tools.ts';
import { Durations } from './support/durations.ts';
import { KafkaProbe } from './support/kafka.ts';
import { isReady, KmaintInstall, podName } from './support/install.ts';

// A team's own consumer on the library, deployed by the chart instead of the demo: `helm install` of the
// orders-ledger example's image on a real node (3 replicas, each with its own SQLite ledger on a volume
// the chart mounts, consumer.extraVolumes), a MaintenanceWindow drains it while orders keep arriving,
// deleting the window brings it back, and in the end the ledgers hold exactly the distinct orders
// produced, and every bad message is in the dead-letter topic with its reason.

const replicas = 3;
const partitions = 6;
const durations = new Durations();

describe('the orders-ledger example, deployed by the chart, through a MaintenanceWindow', () => {
  const run = uniqueName('e2e-ledger');
  const install = new KmaintInstall({
    prefix: 'e2e-ledger',
    replicas,
    topic: uniqueName('e2e-orders'),
    group: uniqueName('e2e-ledger-group'),
    target: uniqueName('e2e-ledger-target'),
    drainTimeoutSeconds: 10,
    preStopSleepSeconds: 1,
    consumerImage: 'orders-ledger',
  });
  const { topic, group } = install.options;
  // Each replica writes <pod>.sqlite into the image's LEDGER_DIR, /app/data, here a folder of this host
  // (the node) mounted into every pod, so the test reads the ledgers where they are.
  const ledgerDir = join(install.logDir, 'ledgers');
  install.options.consumerValues = {
    command: ['node', 'examples/orders-ledger/dist/main.js'],
    extraVolumes: [{ name: 'ledger', hostPath: { path: ledgerDir, type: 'Directory' } }],
    extraVolumeMounts: [{ name: 'ledger', mountPath: '/app/data' }],
  };
  let kafka: KafkaProbe;
  const started = Date.now();

  /** The valid order ids produced so far, and the bad messages with the reason each must be given. */
  const orderIds = new Set<string>();
  const bad = new Map<string, RegExp>();
  let sequence = 0;

  const produceOrders = async (count: number, badEvery: number): Promise<void> => {
    const messages: { key: string; value: string }[] = [];
    for (let i = 0; i < count; i++) {
      const n = sequence++;
      if (n % badEvery === badEvery - 1) {
        const broken = n % 2 === 0 ? `{"id": "o-${n}", ` : JSON.stringify({ id: `o-${n}`, amountCents: -1 });
        bad.set(broken, n % 2 === 0 ? /^not JSON/ : /customer must be a non-empty string/);
        messages.push({ key: `bad-${n}`, value: broken });
        continue;
      }
      // Every fifth order is produced twice: the ledger must still hold it once.
      const id = `o-${n}`;
      const value = JSON.stringify({ id, customer: `c-${n % 7}`, amountCents: 100 + n, currency: 'EUR' });
      orderIds.add(id);
      messages.push({ key: id, value });
      if (n % 5 === 0) messages.push({ key: id, value });
    }
    await kafka.producer.send({ topic, messages });
  };

  /** Distinct order ids across every replica's ledger file. */
  const ledgerIds = (): Set<string> => {
    const ids = new Set<string>();
    for (const file of readdirSync(ledgerDir).filter((f) => f.endsWith('.sqlite'))) {
      const db = new DatabaseSync(join(ledgerDir, file), { readOnly: true });
      try {
        for (const row of db.prepare('SELECT id FROM orders').all()) ids.add(String(row['id']));
      } finally {
        db.close();
      }
    }
    return ids;
  };

  const allCommitted = () =>
    waitFor(async () => (await kafka.offsets(group, topic)).every((p) => p.committed === p.end), {
      message: 'the group to have committed every partition to its end',
      timeoutMs: 120_000,
    });

  beforeAll(async () => {
    mkdirSync(ledgerDir, { recursive: true });
    // The image's user (uid 1000) writes there; a hostPath volume keeps the host's owner.
    chownSync(ledgerDir, 1000, 1000);
    kafka = await KafkaProbe.connect(inject('kafkaBrokers'), run);
    await kafka.createTopic(topic, partitions);
    await kafka.createTopic(`${topic}.dlq`, 1);
    await durations.time('helm install → pods ready', async () => {
      await install.install();
      await install.waitAllReady(300_000);
    });
  }, 600_000);

  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') console.log(await install.diagnostics());
  });

  afterAll(async () => {
    await install.uninstall();
    await kafka?.close();
    durations.record('whole test', Date.now() - started);
    durations.report('orders-ledger e2e');
  }, 300_000);

  it('drains and resumes with every distinct order in the ledgers and every bad one dead-lettered', async () => {
    const ns = install.namespace;
    const pods = (await install.consumerPods()).map(podName);
    expect(pods).toHaveLength(replicas);

    await produceOrders(600, 20);
    await waitFor(() => ledgerIds().size >= 100, { message: 'the ledgers to fill', timeoutMs: 60_000 });

    const window = uniqueName('e2e-ledger-mw');
    const file = join(install.logDir, `${window}.yaml`);
    writeFileSync(
      file,
      stringify({
        apiVersion: 'kmaint.io/v1alpha1',
        kind: 'MaintenanceWindow',
        metadata: { name: window, namespace: ns },
        spec: {
          target: { name: install.options.target, selector: { matchLabels: install.selector } },
          mode: 'drain',
          drainTimeout: '10s',
          reason: 'e2e: ledger database migration',
        },
      }),
    );
    await durations.time('kubectl apply → Drained', async () => {
      await kubectl(['apply', '-f', file]);
      await install.waitDrained(window);
    });
    expect((await install.consumerPods()).filter(isReady).map(podName)).toEqual([]);
    expect(await kafka.groupMembers(group)).toEqual({ state: 'Empty', members: [] });

    // Orders keep coming during the window; they wait in Kafka.
    await produceOrders(300, 20);

    await durations.time('kubectl delete → pods ready', async () => {
      await install.deleteWindow(window);
      await install.waitAllReady(120_000);
    });
    await allCommitted();

    expect([...ledgerIds()].sort()).toEqual([...orderIds].sort());
    // One ledger per replica, named after its pod (MEMBER_ID defaults to POD_NAME).
    expect(
      readdirSync(ledgerDir)
        .filter((f) => f.endsWith('.sqlite'))
        .sort(),
    ).toEqual(pods.map((p) => `${p}.sqlite`).sort());

    const consumer = new Kafka({
      clientId: run,
      brokers: inject('kafkaBrokers').split(','),
      logLevel: logLevel.NOTHING,
    }).consumer({ groupId: uniqueName('e2e-dlq-reader') });
    const dead = new Map<string, string>();
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: `${topic}.dlq`, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          dead.set(message.value?.toString() ?? '', message.headers?.['kmaint-dlq-reason']?.toString() ?? '');
        },
      });
      await waitFor(() => dead.size === bad.size, {
        message: `${bad.size} dead-lettered`,
        timeoutMs: 60_000,
      });
    } finally {
      await consumer.disconnect();
    }
    for (const [value, reason] of bad) expect(dead.get(value), value).toMatch(reason);
  }, 300_000);
});
