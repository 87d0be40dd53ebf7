import { CustomObjectsApi, type KubeConfig } from '../kube/client.ts';
import type { MemberReport } from '@kmaint/common';
import { MW, type WindowObject } from '../kube/resources.ts';
import { buildWindowView, keyOf, type StatusSnapshot } from './model.ts';

export interface StatusSource {
  snapshot(): Promise<StatusSnapshot>;
}

/** What the page reads from etcd: the member reports under one switch key (EtcdSwitches has it). */
export interface MemberReader {
  readMembers(key: string): Promise<MemberReport[]>;
}

/**
 * Reads windows from the apiserver and member reports from etcd for each request, not from the
 * controller's caches, so a standby replica serves the same page as the leader. Concurrent requests
 * within `maxAgeMs` share one read, so a page left open in many browsers costs one list per interval.
 */
export function liveStatusSource(
  kc: KubeConfig,
  namespace: string | null,
  members: MemberReader,
  maxAgeMs = 1_000,
): StatusSource {
  const api = kc.makeApiClient(CustomObjectsApi);
  let cached: { at: number; value: Promise<StatusSnapshot> } | null = null;

  const read = async (): Promise<StatusSnapshot> => {
    const base = { group: MW.group, version: MW.version, plural: MW.plural };
    const list = (await (namespace === null
      ? api.listClusterCustomObject(base)
      : api.listNamespacedCustomObject({ ...base, namespace }))) as { items?: WindowObject[] };
    const windows = (list.items ?? []).sort(
      (a, b) =>
        a.metadata.namespace.localeCompare(b.metadata.namespace) ||
        a.metadata.name.localeCompare(b.metadata.name),
    );
    const keys = [...new Set(windows.map(keyOf).filter((k): k is string => k !== null))];
    let membersError: string | null = null;
    const byKey = new Map<string, MemberReport[]>();
    await Promise.all(
      keys.map(async (key) => {
        try {
          byKey.set(key, await members.readMembers(key));
        } catch (err) {
          membersError = (err as Error).message;
        }
      }),
    );
    return {
      generatedAt: new Date().toISOString(),
      windows: windows.map((w) => buildWindowView(w, byKey.get(keyOf(w) ?? '') ?? [])),
      membersError,
    };
  };

  return {
    snapshot: () => {
      const now = Date.now();
      if (cached === null || now - cached.at > maxAgeMs) {
        const value = read();
        cached = { at: now, value };
        // A failed read is not kept: the next request tries again.
        value.catch(() => {
          if (cached?.value === value) cached = null;
        });
      }
      return cached.value;
    },
  };
}
