import {
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  type ObjectCache,
  type V1Pod,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { MW, type WindowObject } from './resources.ts';

export type Cache<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export interface Handlers<T> {
  onChange(obj: T): void;
  onDelete(obj: T): void;
}

/**
 * An informer that never gives up: client-node's ListWatch stops on a watch or list error and leaves the
 * restart to us, so it is started again with a doubling delay (resuming from its last resourceVersion, or
 * relisting after a 410) until stop() is called.
 */
export class ResilientInformer<T extends KubernetesObject> {
  readonly cache: Cache<T>;
  private readonly log: Logger;
  private stopped = false;
  private delayMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private failedAttempt = false;
  synced = false;

  constructor(cache: Cache<T>, handlers: Handlers<T>, log: Logger) {
    this.cache = cache;
    this.log = log;
    cache.on('add', handlers.onChange);
    cache.on('update', handlers.onChange);
    cache.on('delete', handlers.onDelete);
    cache.on('error', (err) => this.restartLater(err));
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      this.failedAttempt = false;
      // ListWatch reports a failed list through its error callback and still resolves start().
      await this.cache.start();
      if (!this.failedAttempt) {
        this.synced = true;
        // Listed and watching again: the next failure starts the backoff over.
        this.delayMs = 0;
      }
    } catch (err) {
      this.restartLater(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.cache.stop();
  }

  private restartLater(err: unknown): void {
    this.failedAttempt = true;
    if (this.stopped) return;
    this.delayMs = Math.min(30_000, Math.max(500, this.delayMs * 2));
    this.log.warn({ err, retryInMs: this.delayMs }, 'watch failed; restarting');
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.start();
    }, this.delayMs);
  }
}

export function windowCache(
  kc: KubeConfig,
  namespace: string | null,
): Cache<WindowObject & KubernetesObject> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = `/apis/${MW.group}/${MW.version}`;
  const path = namespace === null ? `${base}/${MW.plural}` : `${base}/namespaces/${namespace}/${MW.plural}`;
  return makeInformer(kc, path, () =>
    namespace === null
      ? api.listClusterCustomObject({ group: MW.group, version: MW.version, plural: MW.plural })
      : api.listNamespacedCustomObject({
          group: MW.group,
          version: MW.version,
          plural: MW.plural,
          namespace,
        }),
  );
}

/** The pods of one namespace that a label selector picks, and only those. */
export function podCache(
  kc: KubeConfig,
  api: CoreV1Api,
  namespace: string,
  labelSelector: string,
): Cache<V1Pod> {
  const selector = labelSelector === '' ? undefined : labelSelector;
  return makeInformer(
    kc,
    `/api/v1/namespaces/${namespace}/pods`,
    () => api.listNamespacedPod({ namespace, labelSelector: selector }),
    selector,
  );
}
