import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { etcdBinary, EtcdServer } from './etcd.ts';
import { EnvError } from './errors.ts';
import { freePort } from './ports.ts';
import { Supervised } from './supervisor.ts';

const run = promisify(execFile);

/** Services get cluster IPs from here; nothing ever connects to them (the 198.18.0.0/15 test range). */
export const serviceClusterIpRange = '198.19.0.0/16';

/** GET over TLS without verifying the certificate: only for health probes of our own loopback servers. */
export function probe(url: string, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        rejectUnauthorized: false,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        timeout: 2000,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout probing ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

export interface KubeOptions {
  /** Folder for certificates, kubeconfig, data and logs of this control plane (per run). */
  dir: string;
  /** Folder with kube-apiserver, kube-controller-manager, kube-scheduler and etcd. */
  toolsBin: string;
}

/**
 * A real control plane without nodes: its own etcd, kube-apiserver (token auth, RBAC + Node authorization,
 * service-account keys), kube-controller-manager and kube-scheduler, and a kubeconfig for tests and kubectl.
 */
export class KubeControlPlane {
  readonly server: string;
  readonly token: string;
  readonly kubeconfig: string;
  readonly etcd: EtcdServer;
  readonly processes: Supervised[];

  private constructor(
    server: string,
    token: string,
    kubeconfig: string,
    etcd: EtcdServer,
    processes: Supervised[],
  ) {
    this.server = server;
    this.token = token;
    this.kubeconfig = kubeconfig;
    this.etcd = etcd;
    this.processes = processes;
  }

  static async start(opts: KubeOptions): Promise<KubeControlPlane> {
    const { dir, toolsBin } = opts;
    const certDir = join(dir, 'certs');
    mkdirSync(certDir, { recursive: true });
    const saKey = join(certDir, 'sa.key');
    const saPub = join(certDir, 'sa.pub');
    try {
      await run('openssl', ['genrsa', '-out', saKey, '2048']);
      await run('openssl', ['rsa', '-in', saKey, '-pubout', '-out', saPub]);
    } catch (err) {
      throw new EnvError('ENV_KUBE_KEYS', `openssl could not make service-account keys: ${String(err)}`, {
        cause: err,
      });
    }
    const token = randomBytes(24).toString('hex');
    const tokens = join(dir, 'tokens.csv');
    writeFileSync(tokens, `${token},kmaint-admin,kmaint-admin,"system:masters"\n`, { mode: 0o600 });

    const processes: Supervised[] = [];
    const etcd = await EtcdServer.start({
      dir: join(dir, 'etcd'),
      name: 'kube-etcd',
      binary: etcdBinary(toolsBin),
    });
    try {
      const port = await freePort();
      const server = `https://127.0.0.1:${port}`;
      const apiserver = new Supervised({
        name: 'kube-apiserver',
        command: join(toolsBin, 'kube-apiserver'),
        args: [
          `--etcd-servers=${etcd.endpoint}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          `--secure-port=${port}`,
          `--cert-dir=${certDir}`,
          `--token-auth-file=${tokens}`,
          '--authorization-mode=Node,RBAC',
          `--service-account-key-file=${saPub}`,
          `--service-account-signing-key-file=${saKey}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          `--service-cluster-ip-range=${serviceClusterIpRange}`,
          '--profiling=false',
        ],
        logFile: join(dir, 'kube-apiserver.log'),
        readyTimeoutMs: 180_000,
        ready: async () => (await probe(`${server}/readyz`, token)) === 200,
      });
      processes.push(apiserver);
      await apiserver.start();

      // The apiserver wrote its self-signed serving certificate (with its CA appended) on start.
      const caFile = join(certDir, 'apiserver.crt');
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(
        kubeconfig,
        JSON.stringify(
          {
            apiVersion: 'v1',
            kind: 'Config',
            clusters: [{ name: 'kmaint-test', cluster: { server, 'certificate-authority': caFile } }],
            users: [{ name: 'kmaint-admin', user: { token } }],
            contexts: [{ name: 'kmaint-test', context: { cluster: 'kmaint-test', user: 'kmaint-admin' } }],
            'current-context': 'kmaint-test',
          },
          null,
          2,
        ),
        { mode: 0o600 },
      );
      const delegated = [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        '--leader-elect=false',
      ];
      const cmPort = await freePort();
      const schedulerPort = await freePort();
      const controllerManager = new Supervised({
        name: 'kube-controller-manager',
        command: join(toolsBin, 'kube-controller-manager'),
        args: [
          ...delegated,
          `--secure-port=${cmPort}`,
          `--cert-dir=${join(dir, 'certs-cm')}`,
          '--controllers=*',
          `--service-account-private-key-file=${saKey}`,
          `--root-ca-file=${caFile}`,
          `--service-cluster-ip-range=${serviceClusterIpRange}`,
          '--use-service-account-credentials=false',
        ],
        logFile: join(dir, 'kube-controller-manager.log'),
        readyTimeoutMs: 180_000,
        ready: async () => (await probe(`https://127.0.0.1:${cmPort}/healthz`)) === 200,
      });
      const scheduler = new Supervised({
        name: 'kube-scheduler',
        command: join(toolsBin, 'kube-scheduler'),
        args: [...delegated, `--secure-port=${schedulerPort}`, `--cert-dir=${join(dir, 'certs-scheduler')}`],
        logFile: join(dir, 'kube-scheduler.log'),
        readyTimeoutMs: 180_000,
        ready: async () => (await probe(`https://127.0.0.1:${schedulerPort}/readyz`)) === 200,
      });
      processes.push(controllerManager, scheduler);
      await Promise.all([controllerManager.start(), scheduler.start()]);
      return new KubeControlPlane(server, token, kubeconfig, etcd, processes);
    } catch (err) {
      for (const proc of processes.reverse()) await proc.stop();
      await etcd.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    for (const proc of [...this.processes].reverse()) await proc.stop();
    await this.etcd.stop();
  }
}
