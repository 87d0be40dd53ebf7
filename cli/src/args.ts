import { parseDuration } from '@kmaint/common';

export type Command =
  | {
      name: 'open';
      target: string;
      reason: string | null;
      forMs: number | null;
      mode: 'drain' | 'pause';
      selector: Record<string, string> | null;
      windowName: string | null;
    }
  | { name: 'close'; target: string; wait: boolean }
  | { name: 'status'; target: string | null }
  | { name: 'watch'; target: string | null; intervalMs: number }
  | { name: 'help' };

export interface Global {
  namespace: string | null;
  allNamespaces: boolean;
  kubeconfig: string | null;
  context: string | null;
  etcdEndpoints: string[];
}

export class UsageError extends Error {}

export const USAGE = `kubectl kmaint: maintenance windows for Kafka consumers

  kubectl kmaint open <target> [--for 1h] [--reason "…"] [--mode drain|pause] [--selector app=x] [--name n]
      open a window for /maintenance/<target> now, until --for has passed (or until closed)
  kubectl kmaint close <target> [--wait=false]
      close the windows this plugin opened for <target> (the operator turns the key off)
  kubectl kmaint status [<target>]
      windows with their state, schedule and pods, and each member's state and in-flight count
  kubectl kmaint watch [<target>] [--interval 2s]
      the same, redrawn until Ctrl-C

Flags: -n/--namespace, -A/--all-namespaces, --kubeconfig, --context,
       --etcd-endpoints host:port,… (default: ETCD_ENDPOINTS; without it, members are not shown)
`;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Parses argv (without node and script). Every mistake is a UsageError that says what is wrong. */
export function parseArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): { command: Command; global: Global } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  const booleans = new Set(['all-namespaces', 'help', 'wait']);
  const short: Record<string, string> = { n: 'namespace', A: 'all-namespaces', h: 'help' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const [rawName, inline] = arg.replace(/^--?/, '').split(/=(.*)/s, 2) as [string, string | undefined];
    const name = arg.startsWith('--') ? rawName : (short[rawName] ?? rawName);
    if (booleans.has(name)) {
      flags.set(name, inline ?? 'true');
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  const take = (name: string): string | undefined => {
    const v = flags.get(name);
    flags.delete(name);
    return v;
  };
  const bool = (name: string, dflt: boolean): boolean => {
    const v = take(name);
    if (v === undefined) return dflt;
    if (v === 'true' || v === 'false') return v === 'true';
    throw new UsageError(`--${name} must be true or false, not "${v}"`);
  };
  const global: Global = {
    namespace: take('namespace') ?? null,
    allNamespaces: bool('all-namespaces', false),
    kubeconfig: take('kubeconfig') ?? null,
    context: take('context') ?? null,
    etcdEndpoints: (take('etcd-endpoints') ?? env['ETCD_ENDPOINTS'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  };
  const help = bool('help', false);
  const [verb, target, ...rest] = positional;
  if (help || verb === undefined || verb === 'help') return { command: { name: 'help' }, global };
  if (rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`);
  const needTarget = (): string => {
    if (target === undefined)
      throw new UsageError(`${verb} needs a target, e.g. kubectl kmaint ${verb} kafka-service`);
    if (!DNS_LABEL.test(target))
      throw new UsageError(`target "${target}" must be a DNS label (lower-case letters, digits, -)`);
    return target;
  };
  const duration = (name: string, value: string | undefined): number | null => {
    if (value === undefined) return null;
    const parsed = parseDuration(value);
    if (!parsed.ok || parsed.value <= 0)
      throw new UsageError(`--${name} must be a positive duration like 30m or 1h, not "${value}"`);
    return parsed.value;
  };
  let command: Command;
  switch (verb) {
    case 'open': {
      const mode = take('mode') ?? 'drain';
      if (mode !== 'drain' && mode !== 'pause')
        throw new UsageError(`--mode must be drain or pause, not "${mode}"`);
      const windowName = take('name') ?? null;
      if (windowName !== null && !DNS_LABEL.test(windowName))
        throw new UsageError(`--name "${windowName}" must be a DNS label`);
      command = {
        name: 'open',
        target: needTarget(),
        reason: take('reason') ?? null,
        forMs: duration('for', take('for')),
        mode,
        selector: parseSelector(take('selector')),
        windowName,
      };
      break;
    }
    case 'close':
      command = { name: 'close', target: needTarget(), wait: bool('wait', true) };
      break;
    case 'status':
      command = { name: 'status', target: target === undefined ? null : needTarget() };
      break;
    case 'watch':
      command = {
        name: 'watch',
        target: target === undefined ? null : needTarget(),
        intervalMs: duration('interval', take('interval')) ?? 2_000,
      };
      break;
    default:
      throw new UsageError(`unknown command "${verb}": use open, close, status or watch`);
  }
  const unknown = [...flags.keys()];
  if (unknown.length > 0) throw new UsageError(`unknown flag --${unknown[0]} for ${verb}`);
  return { command, global };
}

function parseSelector(value: string | undefined): Record<string, string> | null {
  if (value === undefined) return null;
  const labels: Record<string, string> = {};
  for (const part of value.split(',')) {
    const [k, v] = part.split('=', 2);
    if (!k || v === undefined)
      throw new UsageError(`--selector must be key=value[,key=value], not "${value}"`);
    labels[k.trim()] = v.trim();
  }
  return labels;
}
