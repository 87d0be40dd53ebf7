import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from './client.ts';
import { KmaintError } from '@kmaint/common';
import type { Logger } from 'pino';
import { withRemovals } from '../core/merge-patch.ts';
import type { Transition, WindowStatus } from '../core/status.ts';
import { EventSink } from './events.ts';
import { MW, type WindowObject } from './resources.ts';

/** Writes to MaintenanceWindows and their events: what the reconciler needs from the apiserver. */
export interface WindowWriter {
  patchStatus(obj: WindowObject, status: WindowStatus): Promise<void>;
  /** Replaces the finalizer list, guarded by the object's resourceVersion. */
  setFinalizers(obj: WindowObject, finalizers: string[]): Promise<void>;
  /** Resolves once the event is handed over: it is sent in the background, and may be dropped. */
  recordEvent(obj: WindowObject, event: Transition): Promise<void>;
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class KubeWindowWriter implements WindowWriter {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private readonly identity: string;
  private readonly events: EventSink;

  constructor(kc: KubeConfig, identity: string, log: Logger) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
    this.identity = identity;
    this.events = new EventSink(log);
  }

  async patchStatus(obj: WindowObject, status: WindowStatus): Promise<void> {
    const { name, namespace } = obj.metadata;
    const body = { status: withRemovals(obj.status, status) };
    await call('KUBE_STATUS_PATCH', `patch status of ${namespace}/${name}`, () =>
      this.custom.patchNamespacedCustomObjectStatus(
        { group: MW.group, version: MW.version, plural: MW.plural, namespace, name, body },
        mergePatch,
      ),
    );
  }

  async setFinalizers(obj: WindowObject, finalizers: string[]): Promise<void> {
    const { name, namespace, resourceVersion } = obj.metadata;
    await call('KUBE_FINALIZER', `update finalizers of ${namespace}/${name}`, () =>
      this.custom.patchNamespacedCustomObject(
        {
          group: MW.group,
          version: MW.version,
          plural: MW.plural,
          namespace,
          name,
          body: { metadata: { finalizers, resourceVersion } },
        },
        mergePatch,
      ),
    );
  }

  async recordEvent(obj: WindowObject, event: Transition): Promise<void> {
    const { name, namespace, uid, resourceVersion } = obj.metadata;
    // Stamped now: the event may be sent a moment later.
    const now = new Date();
    const what = `record an event on ${namespace}/${name}`;
    this.events.record({ window: `${namespace}/${name}`, reason: event.reason }, () =>
      call('KUBE_EVENT', what, () =>
        this.core.createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${name}.`, namespace },
            involvedObject: {
              apiVersion: MW.apiVersion,
              kind: MW.kind,
              name,
              namespace,
              uid,
              resourceVersion,
            },
            reason: event.reason,
            message: event.message,
            type: event.type,
            count: 1,
            firstTimestamp: now,
            lastTimestamp: now,
            source: { component: 'kmaint-operator' },
            reportingComponent: 'kmaint.io/operator',
            reportingInstance: this.identity,
          },
        }),
      ),
    );
  }
}

/** Wraps an apiserver call: conflicts and server errors are worth retrying, a 404 or a 422 is not. */
async function call<T>(code: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const status = err instanceof ApiException ? err.code : undefined;
    const retriable = status === undefined || status === 409 || status === 429 || status >= 500;
    const detail = err instanceof ApiException ? apiMessage(err) : (err as Error).message;
    throw new KmaintError(
      status === 404 ? 'KUBE_NOT_FOUND' : code,
      `apiserver: could not ${what}: ${detail}`,
      {
        retriable,
        cause: err,
      },
    );
  }
}

function apiMessage(err: ApiException<unknown>): string {
  const body = err.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      if (parsed.message !== undefined) return `${err.code} ${parsed.message}`;
    } catch {
      // not JSON: fall through to the raw text
    }
    return `${err.code} ${body.slice(0, 300)}`;
  }
  return `${err.code} ${err.message}`;
}
