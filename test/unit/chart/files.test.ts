import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The chart renders the CRD and the operator's permissions from copies in charts/kmaint/files/, because
// git-based installers drop symlinks. The copies must equal their sources; `npm run chart:sync` makes them.

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const chartDir = join(repoRoot, 'charts', 'kmaint');
const hint = 'charts/kmaint/files/ differs from its source: run `npm run chart:sync`';

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path) : [path];
  });
}

describe('the chart folder', () => {
  it('holds no symbolic links', () => {
    const links = [chartDir, ...walk(chartDir)]
      .filter((path) => lstatSync(path).isSymbolicLink())
      .map((path) => relative(repoRoot, path));
    expect(links).toEqual([]);
  });

  it('carries the CRDs of crds/, byte for byte', () => {
    const sources = readdirSync(join(repoRoot, 'crds')).filter((f) => f.endsWith('.yaml'));
    const copies = readdirSync(join(chartDir, 'files', 'crds')).filter((f) => f.endsWith('.yaml'));
    expect(copies.sort(), hint).toEqual(sources.sort());
    for (const file of sources) {
      expect(readFileSync(join(chartDir, 'files', 'crds', file), 'utf8'), `${file}: ${hint}`).toBe(
        readFileSync(join(repoRoot, 'crds', file), 'utf8'),
      );
    }
  });

  it('carries operator/rbac/role.yaml, byte for byte', () => {
    expect(readFileSync(join(chartDir, 'files', 'operator-rbac', 'role.yaml'), 'utf8'), hint).toBe(
      readFileSync(join(repoRoot, 'operator', 'rbac', 'role.yaml'), 'utf8'),
    );
  });
});
