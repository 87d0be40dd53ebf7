import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { KmaintError } from './errors.ts';

/** The client type, for code that receives one without importing etcd3 itself. */
export type EtcdClient = Etcd3;

/**
 * How the service and the operator reach etcd: the same variables (ETCD_ENDPOINTS, ETCD_CA_FILE, ...)
 * mean the same thing in both. Kept apart from the package's pure entry point because it does I/O.
 */
export interface EtcdConnectionOptions {
  /** host:port (the GoMaint form) or http(s):// URLs. */
  endpoints: string[];
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** Unary calls give up after this long, so an unreachable etcd is noticed instead of awaited forever. */
  callDeadlineMs: number;
}

/** Endpoints as etcd3 wants them: `host:port` gets a scheme, https when TLS is set up. */
export function etcdHosts(endpoints: string[], tls: boolean): string[] {
  return endpoints.map((e) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `${tls ? 'https' : 'http'}://${e}`));
}

/** An etcd3 client from the shared settings; TLS files are read here, once, and named when unreadable. */
export function createEtcdClient(options: EtcdConnectionOptions): Etcd3 {
  const tls = options.caFile !== undefined || options.certFile !== undefined;
  const config: IOptions = {
    hosts: etcdHosts(options.endpoints, tls),
    dialTimeout: options.callDeadlineMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + options.callDeadlineMs }),
  };
  if (tls) {
    config.credentials = {
      // Without a CA file gRPC's createSsl takes null for "the system roots"; etcd3's type insists on a Buffer.
      rootCertificate:
        options.caFile === undefined ? (null as unknown as Buffer) : readPem('ETCD_CA_FILE', options.caFile),
      ...(options.certFile === undefined ? {} : { certChain: readPem('ETCD_CERT_FILE', options.certFile) }),
      ...(options.keyFile === undefined ? {} : { privateKey: readPem('ETCD_KEY_FILE', options.keyFile) }),
    };
  }
  if (options.username !== undefined) {
    config.auth = { username: options.username, password: options.password ?? '' };
  }
  return new Etcd3(config);
}

function readPem(variable: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KmaintError('ETCD_TLS_FILE', `${variable}: cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** The TLS alerts and checks that say the server does not trust this client, or this client the server. */
const SERVER_UNTRUSTED =
  /unable to verify|unable to get (local )?issuer|self[- ]signed|certificate signature|altnames|DEPTH_ZERO|UNABLE_TO/i;
const CLIENT_REFUSED =
  /certificate required|unknown ca|bad certificate|certificate unknown|handshake failure/i;
const OTHER_TLS = /certificate|ssl|tls|handshake|alert/i;
const AUTH_REFUSED =
  /authentication failed|invalid user ID or password|user name is empty|invalid auth token/i;

/** gRPC's wrapping around the reason ("14 UNAVAILABLE: No connection established. Last error: ..."), cut. */
function reasonOf(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/^\d+ [A-Z_]+: (No connection established\. Last error: )?(Error: )?/, '')
    .replace(/;? if the root CA is installed locally.*$/s, '')
    .replace(/\s*Resolution note:.*$/s, '')
    .trim();
}

/** What etcdSettingsProblem needs to name a problem: the settings in play and the key of the call. */
export type EtcdAccessContext = Pick<EtcdConnectionOptions, 'caFile' | 'certFile' | 'username'> & {
  key: string;
  /** What the failed call did to `key` (read when not given), for a permission problem's message. */
  access?: 'read' | 'write';
};

/**
 * The problem with this client's own settings that `err` shows, if it shows one: an untrusted server
 * certificate, a refused client certificate, a wrong user or password, a user without access to the
 * key. Such a problem does not go away by retrying, unlike an etcd that is down.
 */
export function etcdSettingsProblem(err: unknown, options: EtcdAccessContext): KmaintError | undefined {
  const text = err instanceof Error ? err.message : String(err);
  const reason = reasonOf(err);
  const problem = (code: string, message: string) =>
    new KmaintError(code, `${message}: ${reason}`, { cause: err });
  if (AUTH_REFUSED.test(text)) {
    return problem(
      'ETCD_AUTH',
      options.username === undefined
        ? 'etcd wants a user and password (ETCD_USERNAME, ETCD_PASSWORD)'
        : `etcd refused the user "${options.username}" and its password (ETCD_USERNAME, ETCD_PASSWORD)`,
    );
  }
  if (/permission denied/i.test(text)) {
    // Not retriable: the same call is refused until someone changes the user's roles.
    return problem(
      'ETCD_PERMISSION',
      `the etcd user "${options.username ?? ''}" may not ${options.access ?? 'read'} ${options.key} ` +
        '(ETCD_USERNAME; the roles each part needs: docs/operations.md, "etcd roles")',
    );
  }
  if (SERVER_UNTRUSTED.test(text)) {
    const trust = options.caFile === undefined ? 'the system CAs' : `the CA in ${options.caFile}`;
    return problem(
      'ETCD_TLS',
      `etcd's certificate is not trusted: it is not signed by ${trust} (ETCD_CA_FILE)`,
    );
  }
  if (CLIENT_REFUSED.test(text)) {
    return problem(
      'ETCD_TLS',
      options.certFile === undefined
        ? 'etcd wants a client certificate (ETCD_CERT_FILE, ETCD_KEY_FILE)'
        : `etcd refused the client certificate ${options.certFile}: it is not signed by a CA etcd trusts`,
    );
  }
  if (OTHER_TLS.test(text)) return problem('ETCD_TLS', 'TLS with etcd failed');
  return undefined;
}
/**
 * One read of the switch key at start, and with `writes` a check that this user may write that key
 * too: throws the KmaintError of etcdSettingsProblem when TLS, the credentials or the user's roles are
 * wrong, so a misconfigured process says so and exits instead of retrying forever (or, for a report it
 * may not write, running as if the operator could see it). Any other failure (etcd not up yet) returns:
 * the caller's own policy for an unavailable etcd applies.
 */
export async function checkEtcdAccess(
  client: Etcd3,
  options: Omit<EtcdAccessContext, 'access'> & { writes?: string },
): Promise<void> {
  try {
    await client.get(options.key).exec();
  } catch (err) {
    const problem = etcdSettingsProblem(err, options);
    if (problem) throw problem;
    return;
  }
  const writes = options.writes;
  if (writes === undefined) return;
  try {
    // A transaction whose comparison never holds (no key has a version below 0) writes nothing, yet etcd
    // checks the permissions of every operation in it: a write this user may not make is refused here.
    await client.if(options.key, 'Version', '<', 0).then(client.put(writes).value('')).commit();
  } catch (err) {
    const problem = etcdSettingsProblem(err, { ...options, key: writes, access: 'write' });
    if (problem) throw problem;
  }
}
