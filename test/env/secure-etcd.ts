import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toolsBinDir } from './config.ts';
import { etcdBinary, singleNodeArgs } from './etcd.ts';
import { EnvError } from './errors.ts';
import { freePort } from './ports.ts';
import { Supervised } from './supervisor.ts';
import { makeCertificates, type TestCertificates } from './tls.ts';

const run = promisify(execFile);

/**
 * A second etcd, started by a test that needs it (not by the global setup, so no other test pays for
 * it): `tls` serves only https and asks every client for a certificate signed by the test CA; `auth`
 * serves http with authentication on and one user, `kmaint`, that may read and write every key.
 */
export type SecureEtcdMode = 'tls' | 'auth';

export interface SecureEtcd {
  mode: SecureEtcdMode;
  /** `https://127.0.0.1:<port>` (tls) or `http://127.0.0.1:<port>` (auth). */
  endpoint: string;
  /** The certificates of the tls mode (the auth mode has them too, unused). */
  certs: TestCertificates;
  /** The user of the auth mode and its password. */
  username: string;
  password: string;
  logFile: string;
  /**
   * Auth mode: adds a user whose one role holds only `grants` (none: a user that may do nothing), for the
   * tests of a user its roles keep from what it needs. Resolves to its password.
   */
  addUser(name: string, grants: readonly EtcdGrant[]): Promise<string>;
  stop(): Promise<void>;
}

/** One permission of a role: read, write or both on a key, or on every key under a prefix. */
export interface EtcdGrant {
  permission: 'read' | 'write' | 'readwrite';
  key: string;
  prefix?: boolean;
}

const USER = 'kmaint';
const PASSWORD = 'kmaint-test-password';
const ROOT_PASSWORD = 'kmaint-test-root-password';

/** GET /health over mutual TLS, as etcdctl would ask it. */
function healthyOverTls(endpoint: string, certs: TestCertificates): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      `${endpoint}/health`,
      {
        ca: readFileSync(certs.caFile),
        cert: readFileSync(certs.clientCertFile),
        key: readFileSync(certs.clientKeyFile),
        timeout: 1_000,
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(res.statusCode === 200 && body.includes('"health":"true"')));
      },
    );
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function healthyPlain(endpoint: string): Promise<boolean> {
  const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
  return res.ok && ((await res.json()) as { health?: string }).health === 'true';
}

async function etcdctl(endpoint: string, args: string[]): Promise<void> {
  try {
    await run('etcdctl', [`--endpoints=${endpoint}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr ?? (err as Error).message;
    throw new EnvError('ENV_ETCD_AUTH', `etcdctl ${args.join(' ')} failed: ${detail}`, { cause: err });
  }
}

/** Root (needed before `auth enable`) and the one test user, with read and write on every key. */
async function enableAuth(endpoint: string): Promise<void> {
  await etcdctl(endpoint, [
    'user',
    'add',
    'root',
    `--new-user-password=${ROOT_PASSWORD}`,
    '--interactive=false',
  ]);
  await etcdctl(endpoint, ['user', 'grant-role', 'root', 'root']);
  await etcdctl(endpoint, ['role', 'add', USER]);
  await etcdctl(endpoint, ['role', 'grant-permission', USER, '--prefix=true', 'readwrite', '/']);
  await etcdctl(endpoint, ['user', 'add', USER, `--new-user-password=${PASSWORD}`, '--interactive=false']);
  await etcdctl(endpoint, ['user', 'grant-role', USER, USER]);
  await etcdctl(endpoint, ['auth', 'enable']);
}

async function addUser(endpoint: string, name: string, grants: readonly EtcdGrant[]): Promise<string> {
  const password = `${name}-test-password`;
  const asRoot = [`--user=root:${ROOT_PASSWORD}`];
  await etcdctl(endpoint, [...asRoot, 'role', 'add', name]);
  for (const g of grants) {
    await etcdctl(endpoint, [
      ...asRoot,
      'role',
      'grant-permission',
      name,
      `--prefix=${g.prefix === true}`,
      g.permission,
      g.key,
    ]);
  }
  await etcdctl(endpoint, [
    ...asRoot,
    'user',
    'add',
    name,
    `--new-user-password=${password}`,
    '--interactive=false',
  ]);
  await etcdctl(endpoint, [...asRoot, 'user', 'grant-role', name, name]);
  return password;
}

/** Starts a single-member etcd in `dir` (certificates made there too); resolves once it serves. */
export async function startSecureEtcd(mode: SecureEtcdMode, dir: string): Promise<SecureEtcd> {
  const certs = await makeCertificates(join(dir, 'certs'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const scheme = mode === 'tls' ? 'https' : 'http';
  const client = `${scheme}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const name = `etcd-${mode}`;
  const logFile = join(dir, `${name}.log`);
  const tlsArgs =
    mode === 'tls'
      ? [
          `--cert-file=${certs.serverCertFile}`,
          `--key-file=${certs.serverKeyFile}`,
          `--trusted-ca-file=${certs.caFile}`,
          '--client-cert-auth',
        ]
      : [];
  const proc = new Supervised({
    name,
    command: etcdBinary(toolsBinDir()),
    args: [...singleNodeArgs(name, join(dir, 'data'), client, peer), ...tlsArgs],
    logFile,
    readyTimeoutMs: 60_000,
    // With auth on, /health needs no credentials; it is enabled after the first healthy answer anyway.
    ready: () => (mode === 'tls' ? healthyOverTls(client, certs) : healthyPlain(client)),
  });
  await proc.start();
  try {
    if (mode === 'auth') await enableAuth(client);
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    mode,
    endpoint: client,
    certs,
    username: USER,
    password: PASSWORD,
    logFile,
    addUser: async (name, grants) => {
      if (mode !== 'auth') throw new EnvError('ENV_ETCD_AUTH', `etcd-${mode} has no users`);
      return addUser(client, name, grants);
    },
    stop: () => proc.stop(),
  };
}
