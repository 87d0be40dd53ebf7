import {
  ApiException,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
} from './client.ts';
import { KmaintError } from '@kmaint/common';
import { pausePatch, PAUSED_BY, restorePatch, type AnnotationPatch } from '../core/autoscaling.ts';
import { selectorQuery } from '../core/selector.ts';
import type { Window } from '../core/window.ts';

/** What the reconciler needs to pause a window's autoscalers and put them back. */
export interface Autoscalers {
  /** Pauses (active) or restores (not active) the window's ScaledObjects; returns how many it changed. */
  sync(w: Window, active: boolean): Promise<number>;
}

const KEDA = { group: 'keda.sh', version: 'v1alpha1', plural: 'scaledobjects' };
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface ScaledObject {
  metadata: { name: string; annotations?: Record<string, string> };
}

export class KedaAutoscalers implements Autoscalers {
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async sync(w: Window, active: boolean): Promise<number> {
    const objects = await this.candidates(w, active);
    let changed = 0;
    for (const so of objects) {
      const annotations = so.metadata.annotations ?? {};
      const patch: AnnotationPatch = active
        ? pausePatch(annotations, w.ref)
        : restorePatch(annotations, w.ref);
      if (patch === null) continue;
      await this.call(`annotate ScaledObject ${w.namespace}/${so.metadata.name}`, () =>
        this.api.patchNamespacedCustomObject(
          {
            ...KEDA,
            namespace: w.namespace,
            name: so.metadata.name,
            body: { metadata: { annotations: patch } },
          },
          mergePatch,
        ),
      );
      changed++;
    }
    return changed;
  }

  /**
   * While active: the ScaledObjects the window names or selects. Afterwards: every ScaledObject of the
   * namespace this window paused, so one dropped from the spec meanwhile is still put back.
   */
  private async candidates(w: Window, active: boolean): Promise<ScaledObject[]> {
    if (!active) {
      const all = await this.list(w.namespace, undefined);
      return all.filter((so) => so.metadata.annotations?.[PAUSED_BY] === w.ref);
    }
    const spec = w.scaledObjects;
    if (spec === null) return [];
    const byName = new Map<string, ScaledObject>();
    if (spec.selector !== null) {
      const query = selectorQuery(spec.selector);
      if (query !== null)
        for (const so of await this.list(w.namespace, query)) byName.set(so.metadata.name, so);
    }
    for (const name of spec.names) {
      if (byName.has(name)) continue;
      const so = await this.get(w.namespace, name);
      if (so !== null) byName.set(name, so);
    }
    return [...byName.values()];
  }

  private async list(namespace: string, labelSelector: string | undefined): Promise<ScaledObject[]> {
    const res = (await this.call(`list ScaledObjects in ${namespace}`, () =>
      this.api.listNamespacedCustomObject({ ...KEDA, namespace, labelSelector }),
    )) as { items: ScaledObject[] };
    return res.items;
  }

  private async get(namespace: string, name: string): Promise<ScaledObject | null> {
    try {
      return (await this.api.getNamespacedCustomObject({ ...KEDA, namespace, name })) as ScaledObject;
    } catch (err) {
      // A named ScaledObject that does not exist (yet) has nothing to pause.
      if (err instanceof ApiException && err.code === 404) return null;
      throw this.error(`get ScaledObject ${namespace}/${name}`, err);
    }
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw this.error(what, err);
    }
  }

  private error(what: string, err: unknown): KmaintError {
    const status = err instanceof ApiException ? err.code : undefined;
    return new KmaintError(
      'KUBE_AUTOSCALER',
      `apiserver: could not ${what}: ${status ?? ''} ${(err as Error).message}`,
      {
        retriable: status === undefined || status === 409 || status === 429 || status >= 500,
        cause: err,
      },
    );
  }
}
