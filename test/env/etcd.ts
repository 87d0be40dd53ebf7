import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EnvError } from './errors.ts';
import { freePort } from './ports.ts';
import { Supervised } from './supervisor.ts';

/** The Go-built etcd 3.6 of the tools folder, else Debian's etcd-server if that is installed. */
export function etcdBinary(toolsBin: string): string {
  const candidates = [join(toolsBin, 'etcd'), '/usr/bin/etcd'];
  const found = candidates.find((path) => existsSync(path));
  if (found === undefined) {
    throw new EnvError(
      'ENV_ETCD_MISSING',
      `no etcd binary: looked at ${candidates.join(', ')} (run test/env/install.sh)`,
    );
  }
  return found;
}

/**
 * A one-member etcd cluster's flags: its name, data folder and the client and peer URLs it serves
 * (`listenClients`: the client URLs it listens on, when more than the one it advertises).
 */
export function singleNodeArgs(
  name: string,
  dataDir: string,
  client: string,
  peer: string,
  listenClients: readonly string[] = [client],
): string[] {
  return [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${listenClients.join(',')}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=${name}=${peer}`,
    '--initial-cluster-state=new',
    '--initial-cluster-token=kmaint-test',
    '--log-level=warn',
  ];
}

export interface EtcdOptions {
  /** Folder for data and log of this member (per run). */
  dir: string;
  binary: string;
  name?: string;
  clientPort?: number;
  peerPort?: number;
  /** Also serve clients on this address (the host's on the real node's pod network), same port. */
  podAddress?: string;
}

/** A single-member etcd; restart keeps its ports and data dir, so tests can prove recovery. */
export class EtcdServer {
  readonly endpoint: string;
  /** `http://<pod address>:<port>`, when started with a podAddress. */
  readonly podEndpoint: string | undefined;
  readonly clientPort: number;
  readonly binary: string;
  readonly logFile: string;
  readonly process: Supervised;

  private constructor(
    clientPort: number,
    podEndpoint: string | undefined,
    binary: string,
    logFile: string,
    proc: Supervised,
  ) {
    this.clientPort = clientPort;
    this.endpoint = `http://127.0.0.1:${clientPort}`;
    this.podEndpoint = podEndpoint;
    this.binary = binary;
    this.logFile = logFile;
    this.process = proc;
  }

  static async start(opts: EtcdOptions): Promise<EtcdServer> {
    const name = opts.name ?? 'etcd';
    const clientPort = opts.clientPort ?? (await freePort());
    const peerPort = opts.peerPort ?? (await freePort());
    const { binary } = opts;
    const dataDir = join(opts.dir, 'data');
    mkdirSync(opts.dir, { recursive: true });
    const peer = `http://127.0.0.1:${peerPort}`;
    const client = `http://127.0.0.1:${clientPort}`;
    const podEndpoint = opts.podAddress === undefined ? undefined : `http://${opts.podAddress}:${clientPort}`;
    const logFile = join(opts.dir, `${name}.log`);
    const proc = new Supervised({
      name,
      command: binary,
      args: singleNodeArgs(name, dataDir, client, peer, [
        client,
        ...(podEndpoint === undefined ? [] : [podEndpoint]),
      ]),
      logFile,
      readyTimeoutMs: 90_000,
      ready: () => healthy(client),
    });
    await proc.start();
    return new EtcdServer(clientPort, podEndpoint, binary, logFile, proc);
  }

  stop(): Promise<void> {
    return this.process.stop();
  }

  start(): Promise<void> {
    return this.process.start();
  }

  restart(): Promise<void> {
    return this.process.restart();
  }

  kill(): Promise<void> {
    return this.process.kill();
  }
}

async function healthy(client: string): Promise<boolean> {
  const res = await fetch(`${client}/health`, { signal: AbortSignal.timeout(1000) });
  if (!res.ok) return false;
  const body = (await res.json()) as { health?: string };
  return body.health === 'true';
}
