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
