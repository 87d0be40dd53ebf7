import { readFileSync } from 'node:fs';
import { dirname, join, matchesGlob } from 'node:path';
import { repoRoot } from './tools.ts';

// A reader of the repository's Dockerfile and .dockerignore, for the tests that check and replay them.

export interface Instruction {
  op: string;
  args: string;
}
export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** Splits a Dockerfile into instructions (continuation lines joined) grouped by stage. */
export function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', rest = ''] = /^(\S+)\s+(.*)$/.exec(line) ?? [];
    const instruction = { op: op.toUpperCase(), args: rest.replace(/\s+/g, ' ') };
    if (instruction.op === 'FROM') {
      const [, from = '', name = ''] = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(instruction.args) ?? [];
      stages.push({ name, from, instructions: [] });
    } else if (stages.length === 0 && instruction.op === 'ARG') {
      const [name = '', value = ''] = instruction.args.split('=');
      args.set(name, value);
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

export const dockerfile = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));

export function stage(name: string): Stage {
  const found = dockerfile.stages.find((s) => s.name === name);
  if (!found) throw new Error(`no stage ${name}; stages: ${dockerfile.stages.map((s) => s.name).join(', ')}`);
  return found;
}

/** The arguments of every instruction of one kind in a stage, in order. */
export function all(s: Stage, op: string): string[] {
  return s.instructions.filter((i) => i.op === op).map((i) => i.args);
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
