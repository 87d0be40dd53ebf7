import type { Server } from 'node:http';
import { helpText, loadConfig, type OperatorConfig } from './config.ts';
import { Controller } from './controller.ts';
import { checkEtcdSettings, connectEtcd, EtcdSwitches } from './etcd/switches.ts';
import { startHttpServer } from './http/server.ts';
import type { LeaderElector } from './kube/leader.ts';
import { narrowClientNode } from './kube/narrow.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics } from './metrics.ts';
import { statusPageRoutes } from './status-page/routes.ts';

export interface OperatorHandle {
  controller: Controller;
  server: Server;
  isLeader(): boolean;
  stop(): Promise<void>;
}

/** Wires the operator: etcd, the apiserver, the controller, leader election and the HTTP endpoints. */
export async function startOperator(config: OperatorConfig, log: Logger): Promise<OperatorHandle> {
  const metrics = createMetrics();
  // The apiserver's adapters load client-node, and only after the hook that keeps it to what they use.
  narrowClientNode();
  const {
    CoordinationV1Api,
    KedaAutoscalers,
    KubeConfig,
    KubeWindowWriter,
    LeaderElector,
    liveStatusSource,
    shareConnections,
    startKubeSources,
  } = await import('./kube/adapters.ts');
  const kc = new KubeConfig();
  if (config.kubeconfig === null) kc.loadFromCluster();
  else kc.loadFromFile(config.kubeconfig);
  shareConnections(kc);

  const etcd = connectEtcd(config.etcd);
  try {
    await checkEtcdSettings(etcd, config.etcd);
  } catch (err) {
    etcd.close();
    throw err;
  }
  let elector: LeaderElector | null = null;
  const isLeader = (): boolean => elector?.isLeader ?? true;
  const switches = new EtcdSwitches(etcd, log.child({ component: 'etcd' }), config.etcd.username);
  const controller = new Controller({
    startSources: (handlers) => startKubeSources(kc, config.watchNamespace, handlers, log),
    switches,
    writer: new KubeWindowWriter(kc, config.identity, log.child({ component: 'events' })),
    autoscalers: new KedaAutoscalers(kc),
    isLeader,
    metrics,
    log,
    resyncPeriodMs: config.resyncPeriodMs,
    workers: config.workers,
  });

  // Leadership can flip while the controller is still starting: run starts and stops one after another.
  let transitions = Promise.resolve();
  const serially = (what: string, fn: () => Promise<void>): void => {
    transitions = transitions.then(fn).catch((err: unknown) => log.error({ err }, what));
  };

  const server = await startHttpServer(
    config.httpPort,
    {
      live: () => true,
      ready: () => {
        if (controller.running) {
          return controller.synced()
            ? { ok: true, detail: 'leader: caches synced' }
            : { ok: false, detail: 'leader: caches not synced yet' };
        }
        return elector?.healthy
          ? { ok: true, detail: 'standby: apiserver reachable' }
          : { ok: false, detail: 'cannot reach the apiserver' };
      },
    },
    metrics.registry,
    statusPageRoutes(
      liveStatusSource(
        kc,
        config.watchNamespace,
        new EtcdSwitches(etcd, log.child({ component: 'status-page' }), config.etcd.username),
      ),
      log,
    ),
  );

  if (config.leaderElection) {
    elector = new LeaderElector(
      kc.makeApiClient(CoordinationV1Api),
      {
        namespace: config.leaseNamespace,
        name: config.leaseName,
        identity: config.identity,
        leaseDurationMs: config.leaseDurationMs,
        renewDeadlineMs: Math.round((config.leaseDurationMs * 2) / 3),
        retryPeriodMs: Math.max(500, Math.round(config.leaseDurationMs / 7)),
      },
      log,
    );
    elector.start({
      onStartedLeading: () => {
        metrics.leader.set(1);
        serially('controller start failed', () => controller.start());
      },
      onStoppedLeading: () => {
        metrics.leader.set(0);
        serially('controller stop failed', () => controller.stop());
      },
    });
  } else {
    metrics.leader.set(1);
    await controller.start();
  }
  log.info({ port: config.httpPort, leaderElection: config.leaderElection }, 'operator started');

  return {
    controller,
    server,
    isLeader,
    stop: async () => {
      serially('controller stop failed', () => controller.stop());
      await transitions;
      await elector?.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Also stops keeping the provisional lease alive, so its keys expire unless a successor takes them.
      switches.close();
      log.info('operator stopped');
    },
  };
}

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }
  let config: OperatorConfig;
  try {
    config = loadConfig();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel, config.identity);
  process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));
  let operator: OperatorHandle;
  try {
    operator = await startOperator(config, log);
  } catch (err) {
    // The reason in the line itself: a start-up error is read by whoever runs kubectl logs, not a debugger.
    log.fatal({ err }, `failed to start: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    operator.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.main) await main();
