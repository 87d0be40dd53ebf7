import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { promisify } from 'node:util';
import { all, dockerfile, ignored, stage, type Stage } from './dockerfile.ts';
import { repoRoot } from './tools.ts';

// Without a Docker engine the Dockerfile's stages are replayed on the host: each stage gets an empty
// folder as its filesystem root, COPY copies from the build context (minus .dockerignore) or from an
// earlier stage's folder, RUN runs its shell command there with Node 24 first on PATH. The base image
// itself (Debian slim with Node) is the one thing not reproduced: the host's system stands in for it.

const exec = promisify(execFile);
const node24Bin = join(repoRoot, 'node_modules', 'node', 'bin');

export interface ReplayedImage {
  /** The stage's filesystem root on the host. */
  root: string;
  /** WORKDIR, inside the root. */
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
  /** The HEALTHCHECK's command (exec form). */
  healthcheck: string[];
}

export class DockerfileReplay {
  readonly #dir: string;
  readonly #done = new Map<string, Promise<ReplayedImage>>();

  /** Stages are replayed under `dir`; stages used by several targets are replayed once. */
  constructor(dir: string) {
    this.#dir = dir;
  }

  /**
   * The environment RUN instructions and replayed programs get: this machine's (its npm registry and CA
   * settings), Node 24 first on PATH, a throwaway npm cache (the RUNs clean it), and the image's ENV.
   */
  processEnv(image: Pick<ReplayedImage, 'env'>): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PATH: `${node24Bin}:/usr/local/bin:/usr/bin:/bin`,
      npm_config_cache: join(this.#dir, 'npm-cache'),
      npm_config_update_notifier: 'false',
      ...image.env,
    };
  }

  image(name: string): Promise<ReplayedImage> {
    let job = this.#done.get(name);
    if (!job) {
      job = this.#replay(stage(name));
      this.#done.set(name, job);
    }
    return job;
  }

  async #replay(s: Stage): Promise<ReplayedImage> {
    const image: ReplayedImage = {
      root: join(this.#dir, s.name),
      workdir: '/',
      env: {},
      entrypoint: [],
      healthcheck: [],
    };
    mkdirSync(image.root, { recursive: true });
    const inRoot = (path: string) => join(image.root, isAbsolute(path) ? path : join(image.workdir, path));
    for (const { op, args } of s.instructions) {
      if (op === 'WORKDIR') {
        image.workdir = args;
        mkdirSync(inRoot('.'), { recursive: true });
      } else if (op === 'ENV') {
        const [name = '', value = ''] = args.split('=');
        image.env[name] = value;
      } else if (op === 'COPY') {
        await this.#copy(args, inRoot);
      } else if (op === 'RUN') {
        await exec('sh', ['-c', args], {
          cwd: inRoot('.'),
          env: this.processEnv(image),
          maxBuffer: 64 * 1024 * 1024,
          timeout: 600_000,
        }).catch((err: { stderr?: string; message: string }) => {
          throw new Error(`stage ${s.name}: RUN ${args} failed: ${err.stderr ?? err.message}`);
        });
      } else if (op === 'ENTRYPOINT') {
        image.entrypoint = JSON.parse(args) as string[];
      } else if (op === 'HEALTHCHECK') {
        image.healthcheck = JSON.parse(args.slice(args.indexOf('CMD ') + 4)) as string[];
      }
    }
    return image;
  }

  async #copy(args: string, inRoot: (path: string) => string): Promise<void> {
    const words = args.split(' ');
    const from = words[0]?.startsWith('--from=') ? words.shift()?.slice('--from='.length) : undefined;
    const dest = words.pop() ?? '';
    const sourceRoot = from === undefined ? repoRoot : (await this.image(from)).root;
    const target = inRoot(dest);
    const intoFolder = dest.endsWith('/') || words.length > 1;
    for (const source of words) {
      const path = join(sourceRoot, source);
      if (!existsSync(path)) throw new Error(`COPY ${args}: ${source} does not exist`);
      // Docker copies a folder's contents, and a file into a folder destination under its own name.
      const to = statSync(path).isDirectory() || !intoFolder ? target : join(target, basename(source));
      mkdirSync(statSync(path).isDirectory() ? to : dirname(to), { recursive: true });
      cpSync(path, to, {
        recursive: true,
        verbatimSymlinks: true,
        filter: (file) => from !== undefined || !ignored(relative(repoRoot, file) || '.'),
      });
    }
  }
}

/** The runtime targets of the Dockerfile, read from it: the stages with an ENTRYPOINT. */
export const runtimeTargets = dockerfile.stages
  .filter((s) => all(s, 'ENTRYPOINT').length > 0)
  .map((s) => s.name);
