import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { KmaintError } from '@kmaint/common';
import type { SASLOptions } from 'kafkajs';

/**
 * TLS to the brokers: `true` trusts the system CAs; `caFile` a private CA; `certFile` with `keyFile` a
 * client certificate, for brokers that want one (ssl.client.auth=required).
 */
export type KafkaTls = boolean | { caFile?: string; certFile?: string; keyFile?: string };

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** SASL authentication (over TLS, SASL_SSL, unless the listener is SASL_PLAINTEXT). */
export interface KafkaSasl {
  mechanism: (typeof SASL_MECHANISMS)[number];
  username: string;
  password: string;
}

/** What kmaint knows of a connection's security, to name it in an error (never the password). */
export interface KafkaSecurity {
  tls?: KafkaTls | undefined;
  sasl?: KafkaSasl | undefined;
}

function readPem(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KmaintError('KAFKA_TLS_FILE', `${what}: cannot read ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Node's TLS options from kmaint's (undefined: no TLS; `{}`: the system CAs); the files are read here,
 * once, and named when unreadable. Both adapters connect with these.
 */
export function tlsOptions(tls: KafkaTls | undefined): ConnectionOptions | undefined {
  if (tls === undefined || tls === false) return undefined;
  if (tls === true) return {};
  return {
    ...(tls.caFile === undefined ? {} : { ca: [readPem('the Kafka CA file', tls.caFile)] }),
    ...(tls.certFile === undefined ? {} : { cert: readPem('the Kafka client certificate', tls.certFile) }),
    ...(tls.keyFile === undefined ? {} : { key: readPem('the Kafka client key', tls.keyFile) }),
  };
}

/** kafkajs' `ssl` and `sasl` from kmaint's options. */
export function kafkajsSecurity(security: KafkaSecurity): {
  ssl?: ConnectionOptions | boolean;
  sasl?: SASLOptions;
} {
  const { tls, sasl } = security;
  const out: { ssl?: ConnectionOptions | boolean; sasl?: SASLOptions } = {};
  if (tls === true) out.ssl = true;
  else {
    const ssl = tlsOptions(tls);
    if (ssl !== undefined) out.ssl = ssl;
  }
  if (sasl !== undefined) {
    out.sasl = { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as SASLOptions;
  }
  return out;
}

const SERVER_UNTRUSTED =
  /unable to verify|unable to get (local )?issuer|self[- ]signed|certificate signature|altnames|DEPTH_ZERO|UNABLE_TO/i;
const CLIENT_REFUSED =
  /certificate required|unknown ca|bad certificate|certificate unknown|handshake failure/i;

/**
 * Every error of a client's wrappers, outermost first: kafkajs nests its retries in `cause`,
 * @platformatic/kafka gathers the attempts of a call in an AggregateError's `errors`.
 */
export function* errorChain(err: unknown): Generator<Error> {
  if (!(err instanceof Error)) return;
  yield err;
  if (err instanceof AggregateError) for (const e of err.errors) yield* errorChain(e);
  yield* errorChain((err as Error & { cause?: unknown }).cause);
}

/** The two clients' names for refused SASL credentials. */
const isAuthFailure = (e: Error): boolean =>
  e.name === 'KafkaJSSASLAuthenticationError' || (e as { code?: unknown }).code === 'PLT_KFK_AUTHENTICATION';

/**
 * The problem with this client's own security settings that `err` shows, if it shows one: refused SASL
 * credentials, an untrusted broker certificate, a refused client certificate. Retrying cannot fix
 * those, unlike a broker that is down.
 */
export function kafkaSettingsProblem(err: unknown, security: KafkaSecurity): KmaintError | undefined {
  for (const e of errorChain(err)) {
    if (isAuthFailure(e)) {
      const who = security.sasl
        ? `the SASL user "${security.sasl.username}" (${security.sasl.mechanism})`
        : 'this client';
      return new KmaintError(
        'KAFKA_AUTH',
        `Kafka refused ${who} (KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD): ${e.message}`,
        { cause: err },
      );
    }
    if (SERVER_UNTRUSTED.test(e.message)) {
      const tls = security.tls;
      const trust =
        typeof tls === 'object' && tls.caFile !== undefined ? `the CA in ${tls.caFile}` : 'the system CAs';
      return new KmaintError(
        'KAFKA_TLS',
        `the Kafka broker's certificate is not trusted: it is not signed by ${trust} (KAFKA_CA_FILE): ${e.message}`,
        { cause: err },
      );
    }
    if (CLIENT_REFUSED.test(e.message)) {
      const tls = security.tls;
      const cert = typeof tls === 'object' ? tls.certFile : undefined;
      return new KmaintError(
        'KAFKA_TLS',
        cert === undefined
          ? `the Kafka broker wants a client certificate (KAFKA_CERT_FILE, KAFKA_KEY_FILE): ${e.message}`
          : `the Kafka broker refused the client certificate ${cert}: ${e.message}`,
        { cause: err },
      );
    }
  }
  return undefined;
}
