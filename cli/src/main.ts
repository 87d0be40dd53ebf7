import { createEtcdClient } from '@kmaint/common/etcd-client';
import { EtcdSwitches } from '@kmaint/operator/etcd';
import { pino } from 'pino';
import { parseArgs, UsageError, USAGE } from './args.ts';
import { loadKubeConfig, run } from './commands.ts';

/** kubectl-kmaint: exit 0 on success, 1 when the cluster or etcd said no, 2 on a usage mistake. */
async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  const { command, global } = parsed;
  if (command.name === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  const etcd =
    global.etcdEndpoints.length === 0
      ? null
      : createEtcdClient({ endpoints: global.etcdEndpoints, callDeadlineMs: 5_000 });
  process.once('SIGINT', () => {
    etcd?.close();
    process.exit(130);
  });
  try {
    return await run(command, {
      kc: loadKubeConfig(global),
      global,
      members: etcd === null ? null : new EtcdSwitches(etcd, pino({ level: 'silent' })),
      out: (text) => process.stdout.write(`${text}\n`),
      now: () => new Date(),
    });
  } catch (err) {
    const e = err as Error & { code?: number; body?: unknown };
    const body = typeof e.body === 'string' ? safeMessage(e.body) : undefined;
    process.stderr.write(`error: ${body ?? e.message}\n`);
    return 1;
  } finally {
    etcd?.close();
  }
}

/** The apiserver's own sentence from a Status body, when there is one. */
function safeMessage(body: string): string | undefined {
  try {
    const message = (JSON.parse(body) as { message?: unknown }).message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}

process.exitCode = await main();
