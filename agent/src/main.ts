#!/usr/bin/env node
import { memberKey } from '@kmaint/common';
import { checkEtcdAccess, createEtcdClient } from '@kmaint/common/etcd';
import type { Logger } from 'pino';
import { Agent } from './agent.ts';
import { ConfigError, helpText, loadConfig, type AgentConfig } from './config.ts';
import { buildServer } from './http/server.ts';
import { createLogger } from './log.ts';
import { createMetrics } from './metrics.ts';

/** Wires configuration, etcd, the agent and its HTTP server, and owns the process: signals and exits. */

const EXIT_CONFIG = 2;
const ETCD_CALL_DEADLINE_MS = 5_000;
/** As a native sidecar the agent is stopped after the app; closing takes a lease revoke and a socket. */
const SHUTDOWN_LIMIT_MS = 10_000;

let logger: Logger | undefined;

async function main(): Promise<void> {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    process.stdout.write(helpText());
    return;
  }
  let config: AgentConfig;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\nRun with --help to list every variable and its default.\n`);
    process.exit(EXIT_CONFIG);
  }
  const log = createLogger(config.logLevel, config.memberId);
  logger = log;
  process.on('uncaughtException', (err, origin) => {
    log.fatal({ err, origin }, 'unhandled error; exiting');
    process.exit(1);
  });

  const etcd = createEtcdClient({
    endpoints: config.etcdEndpoints,
    caFile: config.etcdCaFile,
    certFile: config.etcdCertFile,
    keyFile: config.etcdKeyFile,
    username: config.etcdUsername,
    password: config.etcdPassword,
    callDeadlineMs: ETCD_CALL_DEADLINE_MS,
  });
  const agent = new Agent(
    etcd,
    {
      key: config.maintenanceKey,
      etcdUnavailable: config.etcdUnavailable,
      id: config.memberId,
      pod: config.podName ?? null,
      appTimeoutMs: config.appTimeoutMs,
      drainTimeoutMs: config.drainTimeoutMs,
    },
    log,
  );
  const server = buildServer(agent, createMetrics(agent), log);

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'stopping: removing the member report');
    setTimeout(() => {
      log.error({ limitMs: SHUTDOWN_LIMIT_MS }, 'shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    agent
      .close()
      .then(() => server.close())
      .then(() => etcd.close())
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  // Listen first: /livez answers while etcd is still awaited.
  const address = await server.listen({ port: config.port, host: '0.0.0.0' });
  log.info({ address, key: config.maintenanceKey, etcd: config.etcdEndpoints }, 'kmaint agent listening');
  await checkEtcdAccess(etcd, {
    key: config.maintenanceKey,
    writes: memberKey(config.maintenanceKey, config.memberId),
    caFile: config.etcdCaFile,
    certFile: config.etcdCertFile,
    username: config.etcdUsername,
  });
  await agent.start();
}

main().catch((err: unknown) => {
  // The reason in the line itself: a start-up error is read in kubectl logs, not in a debugger.
  if (logger) logger.fatal({ err }, `failed to start: ${err instanceof Error ? err.message : String(err)}`);
  else
    process.stderr.write(
      `kmaint-agent failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
  process.exit(1);
});
