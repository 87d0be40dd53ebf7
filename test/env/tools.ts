import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig, KubernetesObjectApi, loadAllYaml, type KubernetesObject } from '@kubernetes/client-node';
import { inject } from 'vitest';

const run = promisify(execFile);

/**
 * A value of the test environment that a real node's pods need (the servers' addresses on the pod
 * network); missing means the environment has no pod network, and the test fails on it, naming it.
 */
export function podValue(name: 'podKafkaBrokers' | 'podEtcdEndpoints' | 'podKubeServer'): string {
  const value: string | undefined = inject(name);
  if (value === undefined)
    throw new Error(`the test environment provides no ${name}: it has no pod network (see its log)`);
  return value;
}

/** A client-node KubeConfig for the test environment's apiserver (admin token). */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfig'));
  return kc;
}

/**
 * Applies every document of a YAML text: created, or replaced if it exists. Goes through loadAllYaml and
 * KubernetesObjectApi because the typed create drops `x-kubernetes-*` keys (CEL rules) silently.
 */
export async function applyYaml(text: string, kc: KubeConfig = kubeConfig()): Promise<KubernetesObject[]> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const applied: KubernetesObject[] = [];
  for (const doc of loadAllYaml(text) as (KubernetesObject | null)[]) {
    if (doc === null || doc.kind === undefined) continue;
    try {
      applied.push(await api.create(doc));
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      const current = await api.read(doc as KubernetesObject & { metadata: { name: string } });
      applied.push(
        await api.replace({
          ...doc,
          metadata: { ...doc.metadata, resourceVersion: current.metadata?.resourceVersion },
        }),
      );
    }
  }
  return applied;
}

export function applyYamlFile(path: string, kc?: KubeConfig): Promise<KubernetesObject[]> {
  return applyYaml(readFileSync(path, 'utf8'), kc);
}

async function tool(
  name: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(join(inject('toolsBin'), name), args, {
      env: { ...process.env, KUBECONFIG: inject('kubeconfig'), ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${name} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`, { cause: err });
  }
}

/** Runs the environment's kubectl against its apiserver; rejects with kubectl's stderr. */
export function kubectl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return tool('kubectl', args);
}

/** Runs the environment's helm against its apiserver, with its caches in this run's folder. */
export function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const home = join(inject('envDir'), 'helm');
  return tool('helm', args, {
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
  });
}
