import {
  CoreV1Api,
  CustomObjectsApi,
  ListWatch,
  Watch,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
  type V1Pod,
} from './client.ts';
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

/**
 * An informer whose cache holds `slim(obj)` instead of what the apiserver sent: the listed items and every
 * watched object pass through it before the cache keeps them, so the operator holds the fields it reads
 * and not the rest (managedFields, a pod's spec and most of its status are most of each object).
 */
function slimInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: ListPage<T>,
  slim: (obj: T) => T,
  labelSelector?: string,
): Cache<T> {
  class SlimWatch extends Watch {
    override watch(
      ...[watchPath, params, callback, done]: Parameters<Watch['watch']>
    ): ReturnType<Watch['watch']> {
      return super.watch(
        watchPath,
        params,
        (phase: string, obj: unknown) =>
          callback(
            phase,
            phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? slim(obj as T) : obj,
          ),
        done,
      );
    }
  }
  return new ListWatch<T>(path, new SlimWatch(kc), () => listSlim(list, slim), false, labelSelector);
}

/** One page of a list: at most `limit` items, from where `_continue` says the last page ended. */
export type ListPage<T extends KubernetesObject> = (page: {
  limit: number;
  _continue: string | undefined;
}) => Promise<KubernetesListObject<T>>;

/** Items per page of an informer's list. */
export const LIST_PAGE = 250;

/**
 * The whole list, a page at a time, each page slimmed before the next is asked for: a restarted
 * operator's first list of 1,000 windows (or of a namespace's pods) is never held whole as the apiserver
 * sends it, with every managedField, only as its slim items. The pages of one list are one snapshot (the
 * apiserver's continue tokens), so its resourceVersion is the first page's, as for an unpaged list.
 */
export async function listSlim<T extends KubernetesObject>(
  list: ListPage<T>,
  slim: (obj: T) => T,
  limit = LIST_PAGE,
): Promise<KubernetesListObject<T>> {
  const first = await list({ limit, _continue: undefined });
  const items = first.items.map(slim);
  for (let next = continueOf(first); next !== undefined;) {
    const page = await list({ limit, _continue: next });
    for (const item of page.items) items.push(slim(item));
    next = continueOf(page);
  }
  const {
    _continue: _token,
    continue: _rawToken,
    remainingItemCount: _rest,
    ...metadata
  } = (first.metadata ?? {}) as ListMeta;
  return { ...first, metadata, items };
}

/** Deserialized lists (pods) carry `_continue`; a custom object list is raw JSON, with `continue`. */
type ListMeta = NonNullable<KubernetesListObject<KubernetesObject>['metadata']> & { continue?: string };

function continueOf(list: KubernetesListObject<KubernetesObject>): string | undefined {
  const meta = list.metadata as ListMeta | undefined;
  const token = meta?._continue ?? meta?.continue;
  return token === undefined || token === '' ? undefined : token;
}

/** A window as the apiserver sent it, without the managedFields nothing here reads. */
export function slimWindow<T extends WindowObject>(obj: T): T {
  if (obj.metadata.managedFields === undefined) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

/** What the controller reads of a pod: its name, namespace, labels and Ready condition (podView). */
export function slimPod(pod: V1Pod): V1Pod {
  const m = pod.metadata ?? {};
  const ready = pod.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    metadata: {
      name: m.name,
      namespace: m.namespace,
      uid: m.uid,
      resourceVersion: m.resourceVersion,
      labels: m.labels,
    },
    status: ready === undefined ? {} : { conditions: [{ type: 'Ready', status: ready.status }] },
  };
}

export function windowCache(
  kc: KubeConfig,
  namespace: string | null,
): Cache<WindowObject & KubernetesObject> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = `/apis/${MW.group}/${MW.version}`;
  const path = namespace === null ? `${base}/${MW.plural}` : `${base}/namespaces/${namespace}/${MW.plural}`;
  const list: ListPage<WindowObject & KubernetesObject> = (page) =>
    namespace === null
      ? api.listClusterCustomObject({ group: MW.group, version: MW.version, plural: MW.plural, ...page })
      : api.listNamespacedCustomObject({
          group: MW.group,
          version: MW.version,
          plural: MW.plural,
          namespace,
          ...page,
        });
  return slimInformer(kc, path, list, slimWindow);
}

/** The pods of one namespace that a label selector picks, and only what the controller reads of them. */
export function podCache(
  kc: KubeConfig,
  api: CoreV1Api,
  namespace: string,
  labelSelector: string,
): Cache<V1Pod> {
  const selector = labelSelector === '' ? undefined : labelSelector;
  return slimInformer(
    kc,
    `/api/v1/namespaces/${namespace}/pods`,
    (page) => api.listNamespacedPod({ namespace, labelSelector: selector, ...page }),
    slimPod,
    selector,
  );
}
