import { describe, expect, it } from 'vitest';
import type { KubernetesListObject, V1Pod } from '../../src/kube/client.ts';
import { listSlim, slimPod, type ListPage } from '../../src/kube/informers.ts';

const pod = (i: number): V1Pod => ({
  metadata: { name: `p${i}`, namespace: 'ns', labels: { app: 'a' }, managedFields: [{ manager: 'x' }] },
  spec: { containers: [{ name: 'c', image: 'i' }] },
  status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
});

/** The apiserver's paging: `limit` items from the continue token on, the same resourceVersion for all. */
function pages(total: number): { list: ListPage<V1Pod>; calls: (string | undefined)[] } {
  const calls: (string | undefined)[] = [];
  const list: ListPage<V1Pod> = async ({ limit, _continue }) => {
    calls.push(_continue);
    const from = _continue === undefined ? 0 : Number(_continue);
    const to = Math.min(total, from + limit);
    const items = Array.from({ length: to - from }, (_, k) => pod(from + k));
    const more = to < total;
    const list: KubernetesListObject<V1Pod> = {
      kind: 'PodList',
      metadata: {
        resourceVersion: '42',
        ...(more ? { _continue: String(to), remainingItemCount: total - to } : {}),
      },
      items,
    };
    return list;
  };
  return { list, calls };
}

describe('listSlim', () => {
  it('lists page by page and keeps every item slimmed, as one list at the first page’s version', async () => {
    const { list, calls } = pages(601);
    const listed = await listSlim(list, slimPod, 250);
    expect(calls).toEqual([undefined, '250', '500']);
    expect(listed.items.map((p) => p.metadata?.name)).toEqual(Array.from({ length: 601 }, (_, i) => `p${i}`));
    expect(listed.items[600]).toEqual(slimPod(pod(600)));
    expect(listed.items[0]?.metadata?.managedFields).toBeUndefined();
    expect(listed.metadata).toEqual({ resourceVersion: '42' });
  });

  it('follows the continue token of a raw (custom object) list too', async () => {
    const { list, calls } = pages(300);
    const raw: ListPage<V1Pod> = async (page) => {
      const listed = await list(page);
      const { _continue, ...meta } = listed.metadata ?? {};
      return { ...listed, metadata: _continue === undefined ? meta : { ...meta, continue: _continue } };
    };
    const listed = await listSlim(raw, slimPod, 100);
    expect(listed.items).toHaveLength(300);
    expect(calls).toEqual([undefined, '100', '200']);
    expect(listed.metadata).toEqual({ resourceVersion: '42' });
  });

  it('asks once when the first page holds everything', async () => {
    const { list, calls } = pages(3);
    expect((await listSlim(list, slimPod, 250)).items).toHaveLength(3);
    expect(calls).toEqual([undefined]);
  });
});
