import type { KubeConfig, KubernetesObject, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { SourceHandlers, Sources } from '../controller.ts';
import type { PodView } from '../core/status.ts';
import { podCache, ResilientInformer, windowCache } from './informers.ts';
import type { WindowObject } from './resources.ts';

/** The controller's caches from two informers: MaintenanceWindows and pods. */
export async function startKubeSources(
  kc: KubeConfig,
  namespace: string | null,
  handlers: SourceHandlers,
  log: Logger,
): Promise<Sources> {
  const windows = new ResilientInformer<WindowObject & KubernetesObject>(
    windowCache(kc, namespace),
    { onChange: handlers.windowChanged, onDelete: handlers.windowDeleted },
    log.child({ informer: 'maintenancewindows' }),
  );
  const onPod = (pod: V1Pod): void => handlers.podChanged(pod.metadata?.namespace ?? '');
  const pods = new ResilientInformer<V1Pod>(
    podCache(kc, namespace),
    { onChange: onPod, onDelete: onPod },
    log.child({ informer: 'pods' }),
  );
  await Promise.all([windows.start(), pods.start()]);
  return {
    windows: () => windows.cache.list(),
    window: (ns, name) => windows.cache.get(name, ns),
    pods: (ns) => pods.cache.list(ns).map(podView),
    synced: () => windows.synced && pods.synced,
    stop: async () => {
      await Promise.all([windows.stop(), pods.stop()]);
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
