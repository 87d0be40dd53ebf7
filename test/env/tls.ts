import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EnvError } from './errors.ts';

const run = promisify(execFile);

/** PEM files of one CA and what it signed, for servers on 127.0.0.1/localhost and their clients. */
export interface TestCertificates {
  dir: string;
  /** The CA that signed the server and client certificates: what a client or server should trust. */
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Another CA that signed nothing here: trusting it alone is the "wrong CA" case. */
  otherCaFile: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr ?? (err as Error).message;
    throw new EnvError('ENV_OPENSSL', `openssl ${args[0]} failed: ${detail}`, { cause: err });
  }
}

async function makeCa(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], dir);
  await openssl(
    ['req', '-x509', '-new', '-key', key, '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-out', cert],
    dir,
  );
  return { cert, key };
}

/** A key (PKCS#8, unencrypted: what etcd, Kafka's PEM stores and Node all read) and a cert signed by the CA. */
async function signed(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
  extensions: string,
): Promise<{ cert: string; key: string }> {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key], dir);
  await openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr], dir);
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      ext,
      '-out',
      cert,
    ],
    dir,
  );
  return { cert, key };
}

/**
 * Makes a fresh CA, a server certificate for 127.0.0.1 and localhost, a client certificate (CN
 * kmaint-client, for mutual TLS) and an unrelated CA, with openssl, valid for two days.
 */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  mkdirSync(dir, { recursive: true });
  const ca = await makeCa(dir, 'kmaint-test-ca');
  const other = await makeCa(dir, 'other-ca');
  const server = await signed(
    dir,
    'server',
    ca,
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' +
      'extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  const client = await signed(
    dir,
    'kmaint-client',
    ca,
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  return {
    dir,
    caFile: ca.cert,
    serverCertFile: server.cert,
    serverKeyFile: server.key,
    clientCertFile: client.cert,
    clientKeyFile: client.key,
    otherCaFile: other.cert,
  };
}

/**
 * A fresh CA and a server certificate it signed for the given IP addresses and DNS names, valid for
 * two days: for a server that more than one address reaches (the apiserver on loopback and on the pod
 * network).
 */
export async function makeServingCertificate(
  dir: string,
  name: string,
  alt: { ips: readonly string[]; dns: readonly string[] },
): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  mkdirSync(dir, { recursive: true });
  const ca = await makeCa(dir, `${name}-ca`);
  const names = [...alt.ips.map((ip) => `IP:${ip}`), ...alt.dns.map((dns) => `DNS:${dns}`)].join(',');
  const server = await signed(
    dir,
    name,
    ca,
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n' +
      `extendedKeyUsage=serverAuth\nsubjectAltName=${names}\n`,
  );
  return { caFile: ca.cert, certFile: server.cert, keyFile: server.key };
}
