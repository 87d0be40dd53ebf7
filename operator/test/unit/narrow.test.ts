import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const src = (file: string): string =>
  JSON.stringify(pathToFileURL(new URL(`../../src/${file}`, import.meta.url).pathname).href);

/**
 * Loads the apiserver adapters in a fresh Node (this test's own process has client-node loaded whole
 * already) and prints every client-node module that was resolved, then a client made by KubeConfig.
 */
const script = `
import { registerHooks } from 'node:module';
const loaded = [];
registerHooks({
  resolve(specifier, context, next) {
    const r = next(specifier, context);
    if (r.url.includes('client-node')) loaded.push(r.url.replace(/^.*client-node\\/dist\\//, ''));
    return r;
  },
});
(await import(${src('kube/narrow.ts')})).narrowClientNode();
const kube = await import(${src('kube/adapters.ts')});
const kc = new kube.KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
  users: [{ name: 'u', token: 't' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});
const api = kc.makeApiClient(kube.CoordinationV1Api);
process.stdout.write(JSON.stringify({ loaded, methods: typeof api.readNamespacedLease }));
`;

describe('narrowClientNode', () => {
  it("loads client-node's KubeConfig and the three clients without the other API groups", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
    });
    const { loaded, methods } = JSON.parse(stdout) as { loaded: string[]; methods: string };
    expect(methods).toBe('function');
    expect(loaded).toContain('config.js');
    expect(loaded).toContain('gen/apis/CoordinationV1Api.js');
    // The index, the all-groups client modules and any other group's generated client stay unloaded.
    expect(
      loaded.filter((u) => u === 'index.js' || u === 'gen/index.js' || u.startsWith('gen/types/')),
    ).toEqual([]);
    expect(
      loaded.filter(
        (u) =>
          u.startsWith('gen/apis/') &&
          !/\/(CoordinationV1Api|CoreV1Api|CustomObjectsApi|baseapi|exception)\.js$/.test(u),
      ),
    ).toEqual([]);
  });
});
