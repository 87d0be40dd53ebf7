// Builds the publishable package into dist/: the library's ESM and .d.ts, plus a compiled copy of the
// parts of @kmaint/common it uses under dist/common/, so an installed package needs no workspace link
// (@kmaint/common is not published). Imports of @kmaint/common are pointed at that copy, and the .ts
// extensions the sources use are rewritten to .js in the declarations too.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const dist = join(root, 'dist');
const tsc = join(root, '..', 'node_modules', 'typescript', 'bin', 'tsc');

rmSync(dist, { recursive: true, force: true });
for (const project of ['tsconfig.build.json', 'tsconfig.common.json']) {
  execFileSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit' });
}

const entries: Record<string, string> = {
  '@kmaint/common': join(dist, 'common', 'index.js'),
  '@kmaint/common/etcd': join(dist, 'common', 'etcd.js'),
};

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* files(path);
    else if (path.endsWith('.js') || path.endsWith('.d.ts')) yield path;
  }
}

for (const file of files(dist)) {
  const source = readFileSync(file, 'utf8');
  const rewritten = source.replace(
    /(from\s+|import\()(['"])([^'"]+)\2/g,
    (whole, lead: string, q: string, spec: string) => {
      const target = entries[spec];
      if (target !== undefined) {
        const rel = relative(dirname(file), target);
        return `${lead}${q}${rel.startsWith('.') ? rel : `./${rel}`}${q}`;
      }
      if (spec.startsWith('@kmaint/')) throw new Error(`${file}: no compiled copy of ${spec}`);
      if (spec.startsWith('.') && spec.endsWith('.ts')) return `${lead}${q}${spec.slice(0, -3)}.js${q}`;
      return whole;
    },
  );
  if (rewritten !== source) writeFileSync(file, rewritten);
}
