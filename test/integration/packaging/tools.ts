import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { inject } from 'vitest';
import { envConfig } from '../../env/config.ts';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const chartDir = join(repoRoot, 'charts', 'kmaint');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end and reports its exit code; never throws for a non-zero exit. */
export function run(
  file: string,
  args: readonly string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        cwd: options.cwd ?? repoRoot,
        env: { ...process.env, ...options.env },
        maxBuffer: 64 * 1024 * 1024,
        timeout: options.timeoutMs ?? 120_000,
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${file} ${args.join(' ')}: ${error.message}\n${stderr}`));
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like run, but a non-zero exit is an error carrying the program's stderr. */
export async function runOk(...args: Parameters<typeof run>): Promise<string> {
  const result = await run(...args);
  if (result.code !== 0) {
    throw new Error(
      `${args[0]} ${args[1].join(' ')} exited ${result.code}:\n${result.stderr}${result.stdout}`,
    );
  }
  return result.stdout;
}

/** The test environment's helm; run it through `run` to see its exit code and refusals. */
export const helmBin = (): string => join(inject('toolsBin'), 'helm');
export const kubectlBin = (): string => join(inject('toolsBin'), 'kubectl');
/** Kubernetes version the charts are rendered for offline (helm's own default is older than kmaint needs). */
export const kubeVersion = envConfig.k8sVersion;

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // Tests walk into specs of many kinds; they assert on shapes rather than declare every one.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [key: string]: any;
}

/** Parses a multi-document YAML stream, dropping empty documents. */
export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`bad YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null && typeof o === 'object');
}

/** A temporary values file (JSON is YAML) for one helm call; removed by the returned cleanup. */
export function valuesFile(values: unknown): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kmaint-values-'));
  const path = join(dir, 'values.yaml');
  writeFileSync(path, JSON.stringify(values));
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `helm template` of the chart with the given values; the result (objects or helm's error text). */
export async function helmTemplate(
  values: unknown = {},
  extraArgs: readonly string[] = [],
): Promise<{ ok: true; objects: K8sObject[] } | { ok: false; error: string }> {
  const file = valuesFile(values);
  try {
    const result = await run(helmBin(), [
      'template',
      'kmaint',
      chartDir,
      '--namespace',
      'kmaint-system',
      '--kube-version',
      kubeVersion,
      '-f',
      file.path,
      ...extraArgs,
    ]);
    return result.code === 0
      ? { ok: true, objects: parseObjects(result.stdout) }
      : { ok: false, error: result.stderr };
  } finally {
    file.cleanup();
  }
}

/** Renders and fails the test with helm's message when rendering fails. */
export async function render(values: unknown = {}, extraArgs: readonly string[] = []): Promise<K8sObject[]> {
  const result = await helmTemplate(values, extraArgs);
  if (!result.ok) throw new Error(`helm template failed:\n${result.error}`);
  return result.objects;
}

export function findObject(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) {
    const have = objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ');
    throw new Error(`no ${kind}${name ? `/${name}` : ''} among ${have}`);
  }
  return found;
}

/** hadolint and shellcheck, installed by test/env/install-linters.sh when missing. */
export async function linters(): Promise<{ hadolint: string; shellcheck: string }> {
  const out = await runOk('bash', [join(repoRoot, 'test/env/install-linters.sh')], { timeoutMs: 300_000 });
  const paths = new Map(
    out
      .trim()
      .split('\n')
      .map((line) => line.split('=', 2) as [string, string]),
  );
  const hadolint = paths.get('hadolint');
  const shellcheck = paths.get('shellcheck');
  if (!hadolint || !shellcheck) throw new Error(`install-linters.sh printed no paths: ${out}`);
  return { hadolint, shellcheck };
}
