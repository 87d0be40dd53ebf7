import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1Pod } from './client.ts';
import type { Logger } from 'pino';
import type { SourceHandlers, Sources } from '../controller.ts';
import { requiredKeys } from '../core/selector.ts';
import type { PodView } from '../core/status.ts';
import { parseWindowOnce } from '../core/window.ts';
import { podCache, ResilientInformer, windowCache } from './informers.ts';
import type { WindowObject } from './resources.ts';

/**
 * The controller's caches: every MaintenanceWindow, and of the pods only those some window may select.
 * Each namespace with a window that has a selector gets one pod watch, label-selected on the keys all its
 * windows' selectors require (`app` when every window there selects by app=...), started with the first
 * such window and stopped with the last: an operator in a large cluster holds its windows' pods, not
 * everyone's, with one watch per namespace however many windows it has.
 */
export async function startKubeSources(
  kc: KubeConfig,
  namespace: string | null,
  handlers: SourceHandlers,
  log: Logger,
): Promise<Sources> {
  // One client for all pod watches: each informer needs no connection pool of its own.
  const core = kc.makeApiClient(CoreV1Api);
  const podInformers = new Map<
    string,
    { selector: string; informer: ResilientInformer<V1Pod>; started: Promise<void> }
  >();
  /** Each pod's labels as last seen, so a pod that leaves a selector reaches the window it left. */
  const lastLabels = new Map<string, Readonly<Record<string, string>>>();
  let stopped = false;

  const onPod = (pod: V1Pod, deleted: boolean): void => {
    const ns = pod.metadata?.namespace ?? '';
    const id = `${ns}/${pod.metadata?.name ?? ''}`;
    const labels = pod.metadata?.labels ?? {};
    const before = lastLabels.get(id);
    if (deleted) lastLabels.delete(id);
    else lastLabels.set(id, labels);
    handlers.podChanged(ns, before === undefined ? [labels] : [labels, before]);
  };

  /** Brings the pod informers in line with what the windows select now. */
  const follow = (): void => {
    if (stopped) return;
    const keysByNamespace = new Map<string, string[]>();
    for (const selection of selecting.values()) {
      if (selection === null) continue;
      const { namespace: ns, keys } = selection;
      const common = keysByNamespace.get(ns);
      keysByNamespace.set(ns, common === undefined ? keys : common.filter((k) => keys.includes(k)));
    }
    for (const [ns, entry] of podInformers) {
      const keys = keysByNamespace.get(ns);
      if (keys !== undefined && keys.join(',') === entry.selector) continue;
      podInformers.delete(ns);
      void entry.informer.stop();
    }
    for (const [ns, keys] of keysByNamespace) {
      if (podInformers.has(ns)) continue;
      const selector = keys.join(',');
      const informer = new ResilientInformer<V1Pod>(
        podCache(kc, core, ns, selector),
        { onChange: (pod) => onPod(pod, false), onDelete: (pod) => onPod(pod, true) },
        log.child({ informer: 'pods', namespace: ns, selector }),
      );
      // The listed pods arrive as add events, which reconcile the windows that select them.
      podInformers.set(ns, { selector, informer, started: informer.start() });
    }
  };
  /**
   * Each window's namespace and the label keys its selector requires (null: it selects no pods), which is
   * all follow() reads: a window event that changes neither (a finalizer, a status) needs no follow(), and
   * one that does costs a pass over these, not over every window's object. In a burst of 1,000 new
   * windows that is two events of three.
   */
  const selecting = new Map<string, Selection | null>();
  const selectionChanged = (obj: WindowObject, deleted: boolean): boolean => {
    const id = `${obj.metadata.namespace}/${obj.metadata.name}`;
    if (deleted) {
      selecting.delete(id);
      return true;
    }
    const parsed = parseWindowOnce(obj);
    const selection =
      parsed.ok && parsed.value.selector !== null
        ? selectionOf(parsed.value.namespace, requiredKeys(parsed.value.selector))
        : null;
    if (selecting.has(id) && selecting.get(id)?.sig === selection?.sig) return false;
    selecting.set(id, selection);
    return true;
  };
  let following = false;
  const followSoon = (): void => {
    if (following) return;
    following = true;
    queueMicrotask(() => {
      following = false;
      follow();
    });
  };

  const windows = new ResilientInformer<WindowObject & KubernetesObject>(
    windowCache(kc, namespace),
    {
      onChange: (obj) => {
        if (selectionChanged(obj, false)) followSoon();
        handlers.windowChanged(obj);
      },
      onDelete: (obj) => {
        if (selectionChanged(obj, true)) followSoon();
        handlers.windowDeleted(obj);
      },
    },
    log.child({ informer: 'maintenancewindows' }),
  );
  await windows.start();
  follow();
  await Promise.all([...podInformers.values()].map(({ started }) => started));
  return {
    windows: () => windows.cache.list(),
    window: (ns, name) => windows.cache.get(name, ns),
    pods: (ns) => (podInformers.get(ns)?.informer.cache.list(ns) ?? []).map(podView),
    synced: () => windows.synced && [...podInformers.values()].every(({ informer }) => informer.synced),
    stop: async () => {
      stopped = true;
      await Promise.all([
        windows.stop(),
        ...[...podInformers.values()].map(({ informer }) => informer.stop()),
      ]);
      podInformers.clear();
    },
  };
}

interface Selection {
  namespace: string;
  keys: string[];
  /** Namespace and keys in one string, to compare a window's selection with its last. */
  sig: string;
}

const selectionOf = (namespace: string, keys: string[]): Selection => ({
  namespace,
  keys,
  sig: `${namespace}/${keys.join(',')}`,
});

export function podView(pod: V1Pod): PodView {
  return {
    name: pod.metadata?.name ?? '',
    labels: pod.metadata?.labels ?? {},
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  };
}
