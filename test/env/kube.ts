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
import { makeServingCertificate } from './tls.ts';

const run = promisify(execFile);

/** Services get cluster IPs from here; nothing ever connects to them (the 198.18.0.0/15 test range). */
export const serviceClusterIpRange = '198.19.0.0/16';
/** The `kubernetes` Service's cluster IP, the first of the range, which a serving certificate names. */
const apiserverServiceIp = '198.19.0.1';

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
  /**
   * The host's address on the real node's pod network: the apiserver then also serves there (pods have
   * no kube-proxy to reach it through its Service) and advertises it.
   */
  podAddress?: string;
}

/**
 * A real control plane without nodes: its own etcd, kube-apiserver (token auth, RBAC + Node authorization,
 * service-account keys), kube-controller-manager and kube-scheduler, and a kubeconfig for tests and kubectl.
 */
export class KubeControlPlane {
  readonly server: string;
  /** `https://<pod address>:<port>`, when started with a podAddress. */
  readonly podServer: string | undefined;
  readonly token: string;
  readonly kubeconfig: string;
  readonly etcd: EtcdServer;
  readonly processes: Supervised[];

  private constructor(
    server: string,
    podServer: string | undefined,
    token: string,
    kubeconfig: string,
    etcd: EtcdServer,
    processes: Supervised[],
  ) {
    this.server = server;
    this.podServer = podServer;
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
      const { podAddress } = opts;
      // Our own serving certificate rather than the apiserver's self-signed one, which names only one
      // address: clients on loopback and pods on the bridge both verify it.
      const serving = await makeServingCertificate(certDir, 'apiserver', {
        ips: ['127.0.0.1', apiserverServiceIp, ...(podAddress === undefined ? [] : [podAddress])],
        dns: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      });
      const apiserver = new Supervised({
        name: 'kube-apiserver',
        command: join(toolsBin, 'kube-apiserver'),
        args: [
          `--etcd-servers=${etcd.endpoint}`,
          // One bind address only: all of them when pods must reach it too.
          `--bind-address=${podAddress === undefined ? '127.0.0.1' : '0.0.0.0'}`,
          `--advertise-address=${podAddress ?? '127.0.0.1'}`,
          `--secure-port=${port}`,
          `--tls-cert-file=${serving.certFile}`,
          `--tls-private-key-file=${serving.keyFile}`,
          // `kubectl logs` and exec go to the kubelet at its node IP (a real node's, on the pod network).
          '--kubelet-preferred-address-types=InternalIP',
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

      const { caFile } = serving;
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
      const podServer = podAddress === undefined ? undefined : `https://${podAddress}:${port}`;
      return new KubeControlPlane(server, podServer, token, kubeconfig, etcd, processes);
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
