import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { SourceHandlers, Sources } from '../controller.ts';
import { selectorQuery } from '../core/selector.ts';
import type { PodView } from '../core/status.ts';
import { parseWindow } from '../core/window.ts';
import { podCache, ResilientInformer, windowCache } from './informers.ts';
import type { WindowObject } from './resources.ts';

/**
 * The controller's caches: every MaintenanceWindow, and of the pods only those some window selects. Each
 * distinct (namespace, selector) gets a label-selected informer, started when the first window needs it
 * and stopped with the last, so an operator in a large cluster holds its windows' pods, not everyone's.
 */
export async function startKubeSources(
  kc: KubeConfig,
  namespace: string | null,
  handlers: SourceHandlers,
  log: Logger,
): Promise<Sources> {
  const podInformers = new Map<
    string,
    { namespace: string; informer: ResilientInformer<V1Pod>; started: Promise<void> }
  >();
  // One client for all pod watches: each informer needs no connection pool of its own.
  const core = kc.makeApiClient(CoreV1Api);
  let stopped = false;

  /** Brings the pod informers in line with what the windows select now. */
  const follow = (): void => {
    if (stopped) return;
    const wanted = new Map<string, { namespace: string; selector: string }>();
    for (const obj of windows.cache.list()) {
      const parsed = parseWindow(obj);
      if (!parsed.ok || parsed.value.selector === null) continue;
      const selector = selectorQuery(parsed.value.selector);
      if (selector === null) continue;
      wanted.set(`${parsed.value.namespace}|${selector}`, { namespace: parsed.value.namespace, selector });
    }
    for (const [id, entry] of podInformers) {
      if (wanted.has(id)) continue;
      podInformers.delete(id);
      void entry.informer.stop();
    }
    for (const [id, { namespace: ns, selector }] of wanted) {
      if (podInformers.has(id)) continue;
      // Only the windows with this selector care about these pods.
      const onPod = (): void => handlers.podChanged(ns, selector);
      const informer = new ResilientInformer<V1Pod>(
        podCache(kc, core, ns, selector),
        { onChange: onPod, onDelete: onPod },
        log.child({ informer: 'pods', namespace: ns, selector }),
      );
      // The listed pods arrive as add events, which reconcile the windows that select them.
      const started = informer.start();
      podInformers.set(id, { namespace: ns, informer, started });
    }
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
        followSoon();
        handlers.windowChanged(obj);
      },
      onDelete: (obj) => {
        followSoon();
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
    pods: (ns) => {
      const byName = new Map<string, PodView>();
      for (const entry of podInformers.values()) {
        if (entry.namespace !== ns) continue;
        for (const pod of entry.informer.cache.list(ns)) byName.set(pod.metadata?.name ?? '', podView(pod));
      }
      return [...byName.values()];
    },
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

export function podView(pod: V1Pod): PodView {
  return {
    name: pod.metadata?.name ?? '',
    labels: pod.metadata?.labels ?? {},
    ready: (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
  };
}
