import type { TestProject } from 'vitest/node';
import { envConfig } from './config.ts';
import { startEnvironment, type Environment, type ProvidedEnv } from './environment.ts';

declare module 'vitest' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  export interface ProvidedContext extends ProvidedEnv {}
}

// Both the integration and the e2e project list this setup; vitest runs it once per project in the same
// main process, so the servers live in one shared, reference-counted slot on globalThis.
const slot = Symbol.for('kmaint.test-env');
interface Shared {
  refs: number;
  env: Promise<Environment>;
}
type Holder = { [slot]?: Shared };

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const holder = globalThis as Holder;
  const shared = (holder[slot] ??= {
    refs: 0,
    env: startEnvironment({ kube: envConfig.kube, log: (line) => console.log(line) }),
  });
  shared.refs += 1;
  let env: Environment;
  try {
    env = await shared.env;
  } catch (err) {
    release(holder, shared);
    throw err;
  }
  for (const key of Object.keys(env.provided) as (keyof ProvidedEnv)[]) {
    const value = env.provided[key];
    if (value !== undefined) project.provide(key, value);
  }
  return async () => {
    if (!release(holder, shared)) return;
    const started = Date.now();
    await env.stop();
    console.log(`kmaint env stopped in ${Date.now() - started} ms`);
  };
}

function release(holder: Holder, shared: Shared): boolean {
  shared.refs -= 1;
  if (shared.refs > 0) return false;
  holder[slot] = undefined;
  return true;
}
