import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEtcdClient, type EtcdClient } from '@kmaint/common/etcd';
import { createConsumer, KmaintError } from '@kmaint/consumer';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  repoRoot,
  run,
  startAgent,
  stop as stopProcess,
  type Running,
} from '../../../agent/test/integration/support.ts';
import {
  CONDITION,
  condition,
  createNamespace,
  createWindow,
  getWindow,
  installCrd,
  kube,
  logged,
  removeNamespaces,
  spawnOperator,
  type OperatorProcess,
} from '../../../operator/test/integration/support.ts';
import { Cluster } from '../../../service/test/integration/api/cluster.ts';
import { ServiceProcess } from '../../../service/test/integration/api/service-process.ts';

import { uniqueName, waitFor } from '../../env/helpers.ts';
import {
  startSecureEtcd,
  type EtcdGrant,
  type SecureEtcd,
  type SecureEtcdMode,
} from '../../env/secure-etcd.ts';

/**
 * etcd with client-certificate TLS and with user/password auth, each its own etcd started here: the
 * service, the library, the agent and the operator connect, follow the switch and write what they
 * write; a CA that did not sign etcd's certificate, or a wrong password, ends each one's start with a
 * message that names the problem.
 */

const k = kube();
const cluster = new Cluster();
const topic = uniqueName('secure-etcd');

beforeAll(async () => {
  await cluster.connect();
  await cluster.ensureTopics([topic], 1);
  await installCrd(k);
});
afterAll(async () => {
  await removeNamespaces(k);
  await cluster.close();
});

interface Settings {
  /** The ETCD_* variables of the service, the agent and the operator. */
  env: Record<string, string>;
  /** The same as the library's maintenance.etcd. */
  options: {
    endpoints: string[];
    caFile?: string;
    certFile?: string;
    keyFile?: string;
    username?: string;
    password?: string;
  };
}

function settings(etcd: SecureEtcd, wrong = false): Settings {
  if (etcd.mode === 'tls') {
    const caFile = wrong ? etcd.certs.otherCaFile : etcd.certs.caFile;
    const { clientCertFile: certFile, clientKeyFile: keyFile } = etcd.certs;
    return {
      env: {
        ETCD_ENDPOINTS: etcd.endpoint,
        ETCD_CA_FILE: caFile,
        ETCD_CERT_FILE: certFile,
        ETCD_KEY_FILE: keyFile,
      },
      options: { endpoints: [etcd.endpoint], caFile, certFile, keyFile },
    };
  }
  const password = wrong ? `${etcd.password}-wrong` : etcd.password;
  return {
    env: { ETCD_ENDPOINTS: etcd.endpoint, ETCD_USERNAME: etcd.username, ETCD_PASSWORD: password },
    options: { endpoints: [etcd.endpoint], username: etcd.username, password },
  };
}

/** What a wrong setting of each mode must say. */
const PROBLEM: Record<SecureEtcdMode, { code: string; says: string }> = {
  tls: { code: 'ETCD_TLS', says: "etcd's certificate is not trusted: it is not signed by the CA in" },
  auth: { code: 'ETCD_AUTH', says: 'etcd refused the user "kmaint" and its password' },
};

const node = join(repoRoot, 'node_modules/.bin/node');

/**
 * A program that must refuse to start: its exit code, its fatal log line's message and the error there
 * (code and retriable, as the log carries them), and all it wrote.
 */
async function failedStart(
  script: string,
  env: Record<string, string>,
): Promise<{
  code: number | null;
  fatal: string | undefined;
  err: { code?: string; retriable?: boolean } | undefined;
  output: string;
}> {
  const proc: Running = run(node, ['--conditions=@kmaint/source', script], env);
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 60_000);
  const code = await proc.exited;
  clearTimeout(timer);
  const lines = proc.output
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const line = lines.find((l) => l['level'] === 'fatal');
  const fatal = line?.['msg'];
  return {
    code,
    fatal: typeof fatal === 'string' ? fatal : undefined,
    err: line?.['err'] as { code?: string; retriable?: boolean } | undefined,
    output: proc.output.join('\n'),
  };
}

/**
 * An operator process with `env` watching a namespace of its own, and in it the window `w` for a fresh
 * target; `check` runs once the operator has started and the window exists, then the operator stops.
 */
async function withOperatorWindow(
  env: Record<string, string>,
  prefix: string,
  check: (run: { namespace: string; target: string; operator: OperatorProcess }) => Promise<void>,
): Promise<void> {
  const namespace = uniqueName(prefix);
  await createNamespace(k, namespace);
  const target = uniqueName('svc');
  const operator = spawnOperator({
    ...env,
    POD_NAME: uniqueName('op'),
    WATCH_NAMESPACE: namespace,
    LEADER_ELECTION: 'false',
  });
  try {
    await waitFor(() => logged(operator.output, 'operator started') === 1, {
      timeoutMs: 60_000,
      message: `the operator to start: ${operator.output.join('\n')}`,
    });
    await createWindow(k, namespace, 'w', { target: { name: target } });
    await check({ namespace, target, operator });
  } finally {
    operator.child.kill('SIGTERM');
    await operator.exited;
  }
}

async function report(etcd: EtcdClient, key: string, id: string): Promise<Record<string, unknown> | null> {
  const raw = await etcd.get(`${key}/members/${id}`).string();
  return raw === null ? null : (JSON.parse(raw) as Record<string, unknown>);
}

describe.each(['tls', 'auth'] as const)('etcd with %s', (mode) => {
  let etcd: SecureEtcd;
  let client: EtcdClient;

  beforeAll(async () => {
    etcd = await startSecureEtcd(mode, mkdtempSync(join(tmpdir(), `kmaint-etcd-${mode}-`)));
    client = createEtcdClient({ ...settings(etcd).options, callDeadlineMs: 5_000 });
  });
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
  });

  it('the service follows the switch and reports over it', async () => {
    const key = `/maintenance/${uniqueName(`svc-${mode}`)}`;
    const member = uniqueName('member');
    const service = await ServiceProcess.start({
      ...settings(etcd).env,
      KAFKA_TOPICS: topic,
      KAFKA_CONSUMER_GROUP: uniqueName('secure-etcd'),
      MAINTENANCE_KEY: key,
      MEMBER_ID: member,
    });
    try {
      await waitFor(async () => (await service.get('/readyz')).status === 200, {
        timeoutMs: 60_000,
        message: 'the service to consume',
      });
      expect((await service.get('/health')).body.components.etcd.healthy).toBe(true);
      await waitFor(async () => (await report(client, key, member))?.['state'] === 'running', {
        message: 'the running report',
      });
      await client.put(key).value('true');
      await waitFor(async () => (await service.state()) === 'maintenance', { message: 'maintenance' });
      await waitFor(async () => (await report(client, key, member))?.['state'] === 'maintenance', {
        message: 'the maintenance report',
      });
    } finally {
      await service.kill();
    }
  });

  it('the library (createConsumer) follows the switch and reports over it', async () => {
    const key = `/maintenance/${uniqueName(`lib-${mode}`)}`;
    const member = uniqueName('member');
    const consumer = createConsumer({
      kafka: { brokers: [inject('kafkaBrokers')], maxWaitTimeMs: 500 },
      groupId: uniqueName('secure-etcd-lib'),
      topics: [topic],
      handler: async () => undefined,
      maintenance: { etcd: settings(etcd).options, key },
      memberId: member,
      logger: pino({ level: 'silent' }),
    });
    await consumer.start();
    try {
      await waitFor(async () => (await report(client, key, member))?.['state'] === 'running', {
        timeoutMs: 60_000,
        message: 'the running report',
      });
      await client.put(key).value('true');
      await waitFor(async () => (await report(client, key, member))?.['state'] === 'maintenance', {
        message: 'the maintenance report',
      });
    } finally {
      await consumer.stop();
    }
  });

  it('the agent follows the switch and reports over it', async () => {
    const key = `/maintenance/${uniqueName(`agent-${mode}`)}`;
    const member = uniqueName('member');
    const agent = await startAgent({ ...settings(etcd).env, MAINTENANCE_KEY: key, MEMBER_ID: member });
    try {
      const desired = async () =>
        (await (await fetch(`${agent.url}/v1/desired`)).json()) as { maintenance: boolean };
      await waitFor(async () => (await desired()).maintenance === false, { message: 'the first read' });
      await fetch(`${agent.url}/v1/state`, {
        method: 'POST',
        body: JSON.stringify({ state: 'running', inFlight: 0, generation: 1 }),
      });
      await waitFor(async () => (await report(client, key, member))?.['state'] === 'running', {
        message: 'the running report',
      });
      await client.put(key).value('true');
      await waitFor(async () => (await desired()).maintenance, { message: 'the agent to see the switch on' });
    } finally {
      await stopProcess(agent);
    }
  });

  it('the operator writes the switch of a window', async () => {
    await withOperatorWindow(settings(etcd).env, `mw-etcd-${mode}`, async ({ target }) => {
      await waitFor(
        async () => {
          const raw = await client.get(`/maintenance/${target}`).string();
          return raw !== null && (JSON.parse(raw) as { enabled: boolean }).enabled;
        },
        { message: 'the operator to turn the key on' },
      );
    });
  });

  describe(`a wrong ${mode === 'tls' ? 'CA' : 'password'} is a start-up error naming it`, () => {
    const { code, says } = PROBLEM[mode];
    const common = () => ({
      ...settings(etcd, true).env,
      MAINTENANCE_KEY: `/maintenance/${uniqueName('wrong')}`,
    });

    it('the service exits 1', async () => {
      const result = await failedStart('service/src/main.ts', {
        ...common(),
        KAFKA_BROKERS: inject('kafkaBrokers'),
        KAFKA_TOPICS: topic,
        HTTP_PORT: '0',
      });
      expect(result.code, result.output).toBe(1);
      expect(result.fatal, result.output).toContain(says);
    });

    it('the library rejects start()', async () => {
      const consumer = createConsumer({
        kafka: { brokers: [inject('kafkaBrokers')] },
        groupId: uniqueName('secure-etcd-lib'),
        topics: [topic],
        handler: async () => undefined,
        maintenance: { etcd: settings(etcd, true).options, key: `/maintenance/${uniqueName('wrong')}` },
        logger: pino({ level: 'silent' }),
      });
      const err = await consumer.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(KmaintError);
      expect((err as KmaintError).code).toBe(code);
      expect((err as Error).message).toContain(says);
      await consumer.stop();
    });

    it('the agent exits 1', async () => {
      const result = await failedStart('agent/src/main.ts', { ...common(), AGENT_PORT: '0' });
      expect(result.code, result.output).toBe(1);
      expect(result.fatal, result.output).toContain(says);
    });

    it('the operator exits 1', async () => {
      const result = await failedStart('operator/src/main.ts', {
        ...common(),
        KUBECONFIG: inject('kubeconfig'),
        LEADER_ELECTION: 'false',
        HTTP_PORT: '0',
        POD_NAME: uniqueName('op'),
      });
      expect(result.code, result.output).toBe(1);
      expect(result.fatal, result.output).toContain(says);
    });
  });
});

/**
 * etcd auth with users whose role lacks a permission each part needs (docs/operations.md, "etcd roles"):
 * the service, the library and the agent end their start with ETCD_PERMISSION naming the user and the key
 * (not retriable) and write no report; the operator starts (its windows may name keys it owns) and says
 * so in the window's status, which never claims the key on or the pods drained.
 */
describe('etcd auth with a user whose role lacks a permission', () => {
  let etcd: SecureEtcd;
  let client: EtcdClient;
  const key = `/maintenance/${uniqueName('perm')}`;
  const member = uniqueName('member');
  /** The users below and their passwords. */
  const passwords = new Map<string, string>();

  beforeAll(async () => {
    etcd = await startSecureEtcd('auth', mkdtempSync(join(tmpdir(), 'kmaint-etcd-perm-')));
    client = createEtcdClient({ ...settings(etcd).options, callDeadlineMs: 5_000 });
    const users: [string, EtcdGrant[]][] = [
      // Its role is for other keys only: it may not even read the switch.
      ['elsewhere', [{ permission: 'readwrite', key: '/elsewhere/', prefix: true }]],
      // It may follow the switch but not write its report under <key>/members/.
      ['no-report', [{ permission: 'read', key }]],
      // An operator that may read every switch and report but write none.
      ['read-only', [{ permission: 'read', key: '/maintenance/', prefix: true }]],
    ];
    for (const [name, grants] of users) passwords.set(name, await etcd.addUser(name, grants));
  });
  afterAll(async () => {
    client?.close();
    await etcd?.stop();
  });

  const as = (user: string) => ({
    ETCD_ENDPOINTS: etcd.endpoint,
    ETCD_USERNAME: user,
    ETCD_PASSWORD: passwords.get(user) ?? '',
  });
  const reports = async () => Object.keys(await client.getAll().prefix(`${key}/members/`).strings());

  /** Each refused user and what the error must name. */
  const refusals = [
    ['a user that may not read the switch', 'elsewhere', () => `may not read ${key}`],
    ['a user that may not write its report', 'no-report', () => `may not write ${key}/members/${member}`],
  ] as const;

  describe.each(refusals)('%s', (_label, user, what) => {
    const says = () => `the etcd user "${user}" ${what()}`;

    it('the service exits 1 with ETCD_PERMISSION and reports nothing', async () => {
      const result = await failedStart('service/src/main.ts', {
        ...as(user),
        MAINTENANCE_KEY: key,
        MEMBER_ID: member,
        KAFKA_BROKERS: inject('kafkaBrokers'),
        KAFKA_TOPICS: topic,
        HTTP_PORT: '0',
      });
      expect(result.code, result.output).toBe(1);
      expect(result.fatal, result.output).toContain(says());
      expect(result.err).toMatchObject({ code: 'ETCD_PERMISSION', retriable: false });
      expect(await reports()).toEqual([]);
    });

    it('the library rejects start() with ETCD_PERMISSION', async () => {
      const consumer = createConsumer({
        kafka: { brokers: [inject('kafkaBrokers')] },
        groupId: uniqueName('secure-etcd-perm'),
        topics: [topic],
        handler: async () => undefined,
        maintenance: {
          etcd: { endpoints: [etcd.endpoint], username: user, password: passwords.get(user) ?? '' },
          key,
        },
        memberId: member,
        logger: pino({ level: 'silent' }),
      });
      const err = await consumer.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      await consumer.stop();
      expect(err).toBeInstanceOf(KmaintError);
      expect(err).toMatchObject({ code: 'ETCD_PERMISSION', retriable: false });
      expect((err as Error).message).toContain(says());
      expect(await reports()).toEqual([]);
    });

    it('the agent exits 1 with ETCD_PERMISSION and reports nothing', async () => {
      const result = await failedStart('agent/src/main.ts', {
        ...as(user),
        MAINTENANCE_KEY: key,
        MEMBER_ID: member,
        AGENT_PORT: '0',
      });
      expect(result.code, result.output).toBe(1);
      expect(result.fatal, result.output).toContain(says());
      expect(result.err).toMatchObject({ code: 'ETCD_PERMISSION', retriable: false });
      expect(await reports()).toEqual([]);
    });
  });

  it.each([
    ['may not write the key', 'read-only', 'write'],
    ['may not read the key nor its reports', 'elsewhere', 'read'],
  ] as const)(
    'the operator, whose user %s, says so in the window status and never claims the key on',
    async (_label, user, access) => {
      await withOperatorWindow(as(user), 'mw-etcd-perm', async ({ namespace, target, operator }) => {
        const says = `the etcd user "${user}" may not ${access} /maintenance/${target}`;
        const status = async () => (await getWindow(k, namespace, 'w')).status;
        await waitFor(
          async () => condition(await status(), CONDITION.Reconciled)?.message.includes(says) ?? false,
          { message: `Reconciled=False naming the user and the key: ${operator.output.join('\n')}` },
        );
        const now = await status();
        expect(condition(now, CONDITION.Reconciled)).toMatchObject({
          status: 'False',
          reason: 'EtcdPermissionDenied',
        });
        // The window is open, but the key is not known to be on, nor any pod known to be drained.
        expect(condition(now, CONDITION.Active)).toMatchObject({
          status: 'False',
          reason: 'EtcdPermissionDenied',
        });
        expect(condition(now, CONDITION.Drained)?.status).not.toBe('True');
        expect(await client.get(`/maintenance/${target}`).string()).toBeNull();
        const failures = operator.output.filter((l) => l.includes('"code":"ETCD_PERMISSION"'));
        expect(failures.length, operator.output.join('\n')).toBeGreaterThan(0);
      });
    },
  );
});
