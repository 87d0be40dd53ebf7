import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';

export interface EtcdConnectionOptions {
  endpoints: string[];
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  username?: string;
  password?: string;
}

/** Unary calls give up after this long, so an unreachable etcd is noticed instead of awaited forever. */
const CALL_DEADLINE_MS = 3_000;

/**
 * An etcd3 client from the service's settings. Endpoints may be `host:port` (the seed's form) or URLs;
 * with a CA file the scheme defaults to https.
 */
export function createEtcdClient(options: EtcdConnectionOptions): Etcd3 {
  const tls = options.caFile !== undefined || options.certFile !== undefined;
  const hosts = options.endpoints.map((e) =>
    /^[a-z]+:\/\//i.test(e) ? e : `${tls ? 'https' : 'http'}://${e}`,
  );
  const config: IOptions = {
    hosts,
    dialTimeout: CALL_DEADLINE_MS,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
  };
  if (tls) {
    config.credentials = {
      // Without a CA file gRPC's createSsl takes null for "the system roots"; etcd3's type insists on a Buffer.
      rootCertificate:
        options.caFile === undefined ? (null as unknown as Buffer) : readFileSync(options.caFile),
      ...(options.certFile === undefined ? {} : { certChain: readFileSync(options.certFile) }),
      ...(options.keyFile === undefined ? {} : { privateKey: readFileSync(options.keyFile) }),
    };
  }
  if (options.username !== undefined && options.password !== undefined) {
    config.auth = { username: options.username, password: options.password };
  }
  return new Etcd3(config);
}
