import { setTimeout as sleep } from 'node:timers/promises';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { switchKey } from '@kmaint/common';
import { liveStatusSource, type MemberReader, type StatusSnapshot } from '@kmaint/operator/status-page';
import type { Command, Global } from './args.ts';
import { formatStatus } from './format.ts';

const MW = { group: 'kmaint.io', version: 'v1alpha1', plural: 'maintenancewindows' } as const;
/** Labels on the windows this plugin opens, so `close` removes those and never someone's scheduled one. */
export const OPENED_BY = 'kmaint.io/opened-by';
export const TARGET_LABEL = 'kmaint.io/target';

export interface Context {
  kc: KubeConfig;
  global: Global;
  members: MemberReader | null;
  out: (text: string) => void;
  now: () => Date;
}

export function loadKubeConfig(global: Global): KubeConfig {
  const kc = new KubeConfig();
  if (global.kubeconfig !== null) kc.loadFromFile(global.kubeconfig);
  else kc.loadFromDefault();
  if (global.context !== null) kc.setCurrentContext(global.context);
  return kc;
}

function namespaceOf(ctx: Context): string {
  return ctx.global.namespace ?? ctx.kc.getContextObject(ctx.kc.getCurrentContext())?.namespace ?? 'default';
}

export async function run(command: Exclude<Command, { name: 'help' }>, ctx: Context): Promise<number> {
  switch (command.name) {
    case 'open':
      return open(command, ctx);
    case 'close':
      return close(command, ctx);
    case 'status':
      ctx.out(formatStatus(await snapshot(ctx, command.target), { membersShown: ctx.members !== null }));
      return 0;
    case 'watch':
      for (;;) {
        const text = formatStatus(await snapshot(ctx, command.target), {
          membersShown: ctx.members !== null,
        });
        ctx.out(`${process.stdout.isTTY ? '\x1b[H\x1b[2J' : ''}${ctx.now().toISOString()}\n${text}\n`);
        await sleep(command.intervalMs);
      }
  }
}

async function snapshot(ctx: Context, target: string | null): Promise<StatusSnapshot> {
  const namespace = ctx.global.allNamespaces ? null : namespaceOf(ctx);
  const members = ctx.members ?? { readMembers: () => Promise.resolve([]) };
  const snap = await liveStatusSource(ctx.kc, namespace, members, 0).snapshot();
  if (target === null) return snap;
  const key = switchKey({ name: target });
  return { ...snap, windows: snap.windows.filter((w) => w.key === key) };
}

async function open(command: Extract<Command, { name: 'open' }>, ctx: Context): Promise<number> {
  const namespace = namespaceOf(ctx);
  const now = ctx.now();
  const name = command.windowName ?? `${command.target.slice(0, 40)}-${now.getTime().toString(36)}`;
  const end =
    command.forMs === null
      ? null
      : new Date(now.getTime() + command.forMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const body = {
    apiVersion: `${MW.group}/${MW.version}`,
    kind: 'MaintenanceWindow',
    metadata: { name, namespace, labels: { [OPENED_BY]: 'kubectl-kmaint', [TARGET_LABEL]: command.target } },
    spec: {
      target: {
        name: command.target,
        ...(command.selector && { selector: { matchLabels: command.selector } }),
      },
      mode: command.mode,
      ...(command.reason !== null && { reason: command.reason }),
      ...(end !== null && { schedule: { end } }),
    },
  };
  await ctx.kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ ...MW, namespace, body });
  ctx.out(
    `maintenancewindow ${namespace}/${name} opened for ${switchKey({ name: command.target })} ${end === null ? 'until closed' : `until ${end}`}\n` +
      `  follow it: kubectl kmaint watch ${command.target} -n ${namespace}\n` +
      `  end it:    kubectl kmaint close ${command.target} -n ${namespace}`,
  );
  return 0;
}

async function close(command: Extract<Command, { name: 'close' }>, ctx: Context): Promise<number> {
  const namespace = namespaceOf(ctx);
  const api = ctx.kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({
    ...MW,
    namespace,
    labelSelector: `${OPENED_BY}=kubectl-kmaint,${TARGET_LABEL}=${command.target}`,
  })) as { items: { metadata: { name: string } }[] };
  if (list.items.length === 0) {
    ctx.out(`no window opened by kubectl kmaint for ${command.target} in ${namespace}`);
    return 1;
  }
  for (const item of list.items) {
    await api.deleteNamespacedCustomObject({ ...MW, namespace, name: item.metadata.name });
    ctx.out(`maintenancewindow ${namespace}/${item.metadata.name} closing`);
  }
  if (command.wait) {
    // The window's finalizer holds it until the operator has turned the key off (or another window holds it).
    const deadline = Date.now() + 120_000;
    for (;;) {
      const left = (await api.listNamespacedCustomObject({
        ...MW,
        namespace,
        labelSelector: `${OPENED_BY}=kubectl-kmaint,${TARGET_LABEL}=${command.target}`,
      })) as { items: unknown[] };
      if (left.items.length === 0) break;
      if (Date.now() > deadline) {
        ctx.out(
          'the operator has not released the window within 2 minutes: is it running? (kubectl describe mw)',
        );
        return 1;
      }
      await sleep(500);
    }
    ctx.out(
      `closed: the operator has switched ${switchKey({ name: command.target })} back unless another window holds it`,
    );
  }
  const others = (await snapshot(ctx, command.target)).windows.filter((w) =>
    ['draining', 'drained', 'degraded'].includes(w.state),
  );
  for (const w of others) ctx.out(`still open for this target: ${w.namespace}/${w.name} (${w.state})`);
  return 0;
}
