import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { inject } from 'vitest';

/**
 * Follows every container of a namespace's pods with `kubectl logs --follow` (the apiserver asks the
 * real kubelet, at its node IP) into `<dir>/<namespace>_<pod>_<container>.log`: the kubelet removes
 * a container's log with its pod, and a test reads what a deleted pod logged while it drained. Each run of a container (restart count) is followed once, appended.
 */
export class PodLogs {
  readonly #namespace: string;
  readonly #dir: string;
  readonly #followed = new Set<string>();
  readonly #children = new Set<ChildProcess>();
  #watch: AbortController | undefined;

  private constructor(namespace: string, dir: string) {
    this.#namespace = namespace;
    this.#dir = dir;
  }

  static async follow(kc: KubeConfig, namespace: string, dir: string): Promise<PodLogs> {
    const logs = new PodLogs(namespace, dir);
    logs.#watch = await new Watch(kc).watch(
      `/api/v1/namespaces/${namespace}/pods`,
      {},
      (_type, pod: V1Pod) => logs.#seen(pod),
      () => undefined,
    );
    return logs;
  }

  #seen(pod: V1Pod): void {
    const name = pod.metadata?.name ?? '';
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const status of statuses) {
      const run = `${name}/${status.name}/${status.restartCount}`;
      if (status.state?.running === undefined || this.#followed.has(run)) continue;
      this.#followed.add(run);
      const out = openSync(join(this.#dir, `${this.#namespace}_${name}_${status.name}.log`), 'a');
      const child = spawn(
        join(inject('toolsBin'), 'kubectl'),
        ['logs', '--follow', '--namespace', this.#namespace, name, '--container', status.name],
        { env: { ...process.env, KUBECONFIG: inject('kubeconfig') }, stdio: ['ignore', out, out] },
      );
      closeSync(out);
      this.#children.add(child);
      child.once('exit', () => this.#children.delete(child));
    }
  }

  /** Ends the watch and every follower still running (their containers outlived the test). */
  stop(): void {
    this.#watch?.abort();
    for (const child of this.#children) child.kill();
  }
}
