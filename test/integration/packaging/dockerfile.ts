import { readFileSync } from 'node:fs';
import { dirname, join, matchesGlob } from 'node:path';
import { parseDockerfile, type Stage } from '../../env/dockerfile.ts';
import { repoRoot } from './tools.ts';

export { all } from '../../env/dockerfile.ts';

// A reader of the repository's Dockerfile and .dockerignore, for the tests that check and replay them.

export const dockerfile = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));

export function stage(name: string): Stage {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`no stage ${name}; stages: ${dockerfile.stages.map((s) => s.name).join(', ')}`);
  return found;
}

const dockerignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));

/** Whether Docker leaves a path (relative to the repo) out of the build context. */
export function ignored(path: string): boolean {
  const clean = path.replace(/\/+$/, '');
  for (let p = clean; p !== '.' && p !== ''; p = dirname(p)) {
    if (dockerignore.some((pattern) => matchesGlob(p, pattern))) return true;
  }
  return false;
}
