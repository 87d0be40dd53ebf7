import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoreV1Api,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubeConfig,
  type V1Container,
  type V1ContainerStatus,
  type V1EnvVar,
  type V1Pod,
  type V1PodCondition,
  type V1Probe,
} from '@kubernetes/client-node';
import { NodeHeartbeat } from './node.ts';
import { freePort, portOpen } from './ports.ts';
import { Supervised } from './supervisor.ts';

/** How a container image runs here: a local program instead of the image's entrypoint. */
export interface ImageSpec {
  command: string;
  /** Used when the container has no `args` of its own (the image's CMD). */
  args?: string[];
  env?: Record<string, string>;
  /**
   * The env var through which the process learns its loopback port (default `PORT`). It overrides a value
   * the container sets, because every pod shares 127.0.0.1 and so cannot use its containerPort.
   */
  portEnv?: string;
  /**
   * Set after the container's own env: for values that name another container's port (a sidecar's
   * address), which here is a loopback port of its own rather than the containerPort a pod would share.
   */
  overrideEnv?: Record<string, string>;
  cwd?: string;
}

/** The loopback port of each container of a pod (sidecars included), by container name. */
export type PodPorts = Readonly<Record<string, number>>;

/** image (exact, or repository without tag) → how to run it; a function sees the container and pod. */
export type ImageMap = Record<
  string,
  ImageSpec | ((container: V1Container, pod: V1Pod, ports: PodPorts) => ImageSpec)
>;

export interface StandInKubeletOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  images: ImageMap;
  /** Container logs go to `<logDir>/<namespace>_<pod>_<container>.log`. */
  logDir: string;
  nodeLabels?: Record<string, string>;
  /** Pause before a crashed or liveness-failed container is started again (a kubelet backs off longer). */
  restartDelayMs?: number;
}

/** Where a pod's container really listens. */
export interface ContainerEndpoint {
  port: number;
  url: string;
}

const strategicMerge = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

interface ContainerRuntime {
  container: V1Container;
  /** A native sidecar: an init container with restartPolicy Always. */
  sidecar: boolean;
  port: number;
  logFile: string;
  process: Supervised | undefined;
  waiting: { reason: string; message: string } | undefined;
  startedAt: Date | undefined;
  lastExit: { exitCode: number; reason: string; finishedAt: Date } | undefined;
  restartCount: number;
  started: boolean;
  ready: boolean;
}

interface PodRuntime {
  key: string;
  pod: V1Pod;
  ip: string;
  containers: ContainerRuntime[];
  timers: NodeJS.Timeout[];
  terminating: boolean;
  statusQueue: Promise<void>;
  startTime: Date;
}

function imageFor(images: ImageMap, container: V1Container, runtime: PodRuntime): ImageSpec | undefined {
  const image = container.image ?? '';
  const repository = image.replace(/@.*$/, '').replace(/:[^/:]*$/, '');
  const entry = images[image] ?? images[repository];
  const ports = Object.fromEntries(runtime.containers.map((c) => [c.container.name, c.port]));
  return typeof entry === 'function' ? entry(container, runtime.pod, ports) : entry;
}

function fieldRef(pod: V1Pod, ip: string, path: string): string {
  const labelOrAnnotation = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (labelOrAnnotation !== null) {
    const map = labelOrAnnotation[1] === 'labels' ? pod.metadata?.labels : pod.metadata?.annotations;
    return map?.[labelOrAnnotation[2] ?? ''] ?? '';
  }
  const fields: Record<string, string | undefined> = {
    'metadata.name': pod.metadata?.name,
    'metadata.namespace': pod.metadata?.namespace,
    'metadata.uid': pod.metadata?.uid,
    'spec.nodeName': pod.spec?.nodeName,
    'spec.serviceAccountName': pod.spec?.serviceAccountName,
    'status.podIP': ip,
    'status.hostIP': '198.18.0.1',
  };
  return fields[path] ?? '';
}

/**
 * The stand-in kubelet (test/env/README.md): registers a Node and keeps it Ready, runs each container of each
 * Pod bound to it as a local process (image → command from the image map; env incl. downward-API
 * fieldRefs, ConfigMap and Secret keys; args), gives the Pod an IP from 198.18.0.0/16 that nothing
 * connects to and each container a real loopback port, probes startup/liveness/readiness (httpGet,
 * tcpSocket, exec) against that port and patches Pod conditions and container statuses. On deletion it
 * runs the preStop hook, sends SIGTERM, waits out the grace period, SIGKILLs and removes the Pod.
 * Native sidecars (init containers with restartPolicy Always) start first, each once it has started
 * (its startup probe passed), and stop after the app containers have exited; their readiness counts
 * toward the Pod's. Not supported: volumes, init containers that run to completion, resource limits,
 * image pulls.
 */
export class StandInKubelet {
  readonly nodeName: string;
  readonly #options: StandInKubeletOptions;
  readonly #core: CoreV1Api;
  readonly #pods = new Map<string, PodRuntime>();
  readonly #ipBlock = randomInt(1, 255);
  #nextHost = 1;
  #node: NodeHeartbeat | undefined;
  #informer: Informer<V1Pod> | undefined;
  #stopped = false;
  /** Errors the kubelet could not attach to a pod (API failures); tests may assert it stays empty. */
  readonly errors: unknown[] = [];

  private constructor(options: StandInKubeletOptions) {
    this.nodeName = options.nodeName;
    this.#options = options;
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  static async start(options: StandInKubeletOptions): Promise<StandInKubelet> {
    mkdirSync(options.logDir, { recursive: true });
    const kubelet = new StandInKubelet(options);
    kubelet.#node = await NodeHeartbeat.register(options.kubeConfig, {
      name: options.nodeName,
      labels: options.nodeLabels,
      address: '198.18.0.1',
    });
    const fieldSelector = `spec.nodeName=${options.nodeName}`;
    const informer = makeInformer(
      options.kubeConfig,
      `/api/v1/pods?fieldSelector=${encodeURIComponent(fieldSelector)}`,
      () => kubelet.#core.listPodForAllNamespaces({ fieldSelector }),
    );
    informer.on('add', (pod) => kubelet.#observe(pod));
    informer.on('update', (pod) => kubelet.#observe(pod));
    informer.on('delete', (pod) => void kubelet.#forget(pod));
    informer.on('error', () => {
      // The informer stops on a broken watch; start it again unless the kubelet is stopping.
      if (!kubelet.#stopped)
        setTimeout(() => void informer.start().catch((err: unknown) => kubelet.errors.push(err)), 1000);
    });
    await informer.start();
    kubelet.#informer = informer;
    return kubelet;
  }

  /** The loopback endpoint of a pod's container (the first container by default). */
  endpoint(namespace: string, pod: string, container?: string): ContainerEndpoint | undefined {
    const runtime = this.#pods.get(`${namespace}/${pod}`);
    const found = runtime?.containers.find((c) => named(c, container));
    return found && { port: found.port, url: `http://127.0.0.1:${found.port}` };
  }

  logFile(namespace: string, pod: string, container?: string): string | undefined {
    const runtime = this.#pods.get(`${namespace}/${pod}`);
    return runtime?.containers.find((c) => named(c, container))?.logFile;
  }

  /** Names (`namespace/name`) of the pods whose processes this kubelet runs now. */
  runningPods(): string[] {
    return [...this.#pods.values()]
      .filter((p) => p.containers.some((c) => c.process?.running === true))
      .map((p) => p.key);
  }

  /** Stops watching and kills every pod process; with `removeNode`, also deletes the Node. */
  async stop(options: { removeNode?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    await this.#informer?.stop();
    for (const runtime of this.#pods.values()) {
      for (const timer of runtime.timers) clearInterval(timer);
      await Promise.all(runtime.containers.map((c) => c.process?.stop(2000)));
    }
    this.#pods.clear();
    await this.#node?.stop({ remove: options.removeNode });
  }

  #observe(pod: V1Pod): void {
    if (this.#stopped) return;
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const runtime = this.#pods.get(key);
    if (runtime !== undefined && runtime.pod.metadata?.uid !== pod.metadata?.uid) {
      // A new pod of the same name: the old one is gone (forget drops it from the map at once).
      void this.#forget(runtime.pod);
      this.#observe(pod);
      return;
    }
    if (runtime === undefined) {
      if (pod.metadata?.deletionTimestamp !== undefined) {
        void this.#deleteObject(pod);
        return;
      }
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      this.#run(pod).catch((err: unknown) => this.errors.push(err));
      return;
    }
    runtime.pod = pod;
    if (pod.metadata?.deletionTimestamp !== undefined && !runtime.terminating) {
      this.#terminate(runtime).catch((err: unknown) => this.errors.push(err));
    }
  }

  async #run(pod: V1Pod): Promise<void> {
    const namespace = pod.metadata?.namespace ?? 'default';
    const name = pod.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    const ip = `198.18.${this.#ipBlock}.${this.#nextHost}`;
    this.#nextHost = (this.#nextHost % 254) + 1;
    const runtime: PodRuntime = {
      key,
      pod,
      ip,
      containers: [],
      timers: [],
      terminating: false,
      statusQueue: Promise.resolve(),
      startTime: new Date(),
    };
    this.#pods.set(key, runtime);
    const sidecars = (pod.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always');
    for (const container of [...sidecars, ...(pod.spec?.containers ?? [])]) {
      runtime.containers.push({
        container,
        sidecar: sidecars.includes(container),
        port: await freePort(),
        logFile: join(this.#options.logDir, `${namespace}_${name}_${container.name}.log`),
        process: undefined,
        waiting: { reason: 'ContainerCreating', message: '' },
        startedAt: undefined,
        lastExit: undefined,
        restartCount: 0,
        started: false,
        ready: false,
      });
    }
    await this.#patchStatus(runtime);
    for (const c of runtime.containers) {
      await this.#startContainer(runtime, c);
      // As a kubelet does: the next container starts once a sidecar has started.
      while (c.sidecar && !c.started && !runtime.terminating && !this.#stopped) await sleep(100);
    }
  }

  async #env(runtime: PodRuntime, c: ContainerRuntime, image: ImageSpec): Promise<NodeJS.ProcessEnv> {
    const { pod, ip } = runtime;
    const namespace = pod.metadata?.namespace ?? 'default';
    const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], ...image.env };
    for (const from of c.container.envFrom ?? []) {
      const data = from.configMapRef
        ? (await this.#core.readNamespacedConfigMap({ name: from.configMapRef.name ?? '', namespace })).data
        : from.secretRef
          ? decode(
              (await this.#core.readNamespacedSecret({ name: from.secretRef.name ?? '', namespace })).data,
            )
          : undefined;
      for (const [k, v] of Object.entries(data ?? {})) env[`${from.prefix ?? ''}${k}`] = v;
    }
    for (const v of c.container.env ?? []) env[v.name] = await this.#envValue(v, pod, ip, namespace);
    Object.assign(env, image.overrideEnv);
    env[image.portEnv ?? 'PORT'] = String(c.port);
    return env;
  }

  async #envValue(v: V1EnvVar, pod: V1Pod, ip: string, namespace: string): Promise<string> {
    const from = v.valueFrom;
    if (from === undefined) return v.value ?? '';
    if (from.fieldRef) return fieldRef(pod, ip, from.fieldRef.fieldPath);
    if (from.configMapKeyRef) {
      const cm = await this.#core.readNamespacedConfigMap({
        name: from.configMapKeyRef.name ?? '',
        namespace,
      });
      return cm.data?.[from.configMapKeyRef.key] ?? '';
    }
    if (from.secretKeyRef) {
      const secret = await this.#core.readNamespacedSecret({ name: from.secretKeyRef.name ?? '', namespace });
      return decode(secret.data)[from.secretKeyRef.key] ?? '';
    }
    return '';
  }

  async #startContainer(runtime: PodRuntime, c: ContainerRuntime): Promise<void> {
    if (runtime.terminating) return;
    const image = imageFor(this.#options.images, c.container, runtime);
    if (image === undefined) {
      c.waiting = {
        reason: 'ErrImagePull',
        message: `the stand-in kubelet has no command for image ${c.container.image}`,
      };
      await this.#patchStatus(runtime);
      return;
    }
    let env: NodeJS.ProcessEnv;
    try {
      env = await this.#env(runtime, c, image);
    } catch (err) {
      c.waiting = {
        reason: 'CreateContainerConfigError',
        message: err instanceof Error ? err.message : String(err),
      };
      await this.#patchStatus(runtime);
      return;
    }
    const proc = new Supervised({
      name: `${runtime.key}/${c.container.name}`,
      command: image.command,
      args: c.container.args ?? image.args ?? [],
      env,
      cwd: image.cwd,
      logFile: c.logFile,
      readyTimeoutMs: 5000,
      ready: async () => true,
      onExit: (code, signal) => void this.#exited(runtime, c, proc, code, signal),
    });
    c.process = proc;
    try {
      await proc.start();
    } catch (err) {
      c.waiting = { reason: 'RunContainerError', message: err instanceof Error ? err.message : String(err) };
      await this.#patchStatus(runtime);
      return;
    }
    if (runtime.terminating) {
      // Deleted while starting: #terminate did not see this process.
      await proc.stop(2000);
      return;
    }
    c.waiting = undefined;
    c.startedAt = new Date();
    c.started = c.container.startupProbe === undefined;
    c.ready = c.container.readinessProbe === undefined && c.started;
    await this.#patchStatus(runtime);
    this.#startProbes(runtime, c, proc);
  }

  #startProbes(runtime: PodRuntime, c: ContainerRuntime, proc: Supervised): void {
    const { startupProbe, livenessProbe, readinessProbe } = c.container;
    const schedule = (probe: V1Probe, onResult: (ok: boolean) => void) => {
      let successes = 0;
      let failures = 0;
      const tick = async () => {
        if (c.process !== proc || !proc.running) return;
        const ok = await this.#probe(probe, c, runtime);
        if (c.process !== proc) return;
        successes = ok ? successes + 1 : 0;
        failures = ok ? 0 : failures + 1;
        if (ok && successes >= (probe.successThreshold ?? 1)) onResult(true);
        if (!ok && failures >= (probe.failureThreshold ?? 3)) onResult(false);
      };
      const start = setTimeout(
        () => {
          void tick();
          const timer = setInterval(() => void tick(), (probe.periodSeconds ?? 10) * 1000);
          runtime.timers.push(timer);
        },
        (probe.initialDelaySeconds ?? 0) * 1000,
      );
      runtime.timers.push(start);
    };
    const afterStartup = () => {
      if (readinessProbe) {
        schedule(readinessProbe, (ok) => {
          if (c.ready !== ok) {
            c.ready = ok;
            void this.#patchStatus(runtime);
          }
        });
      } else if (!c.ready) {
        c.ready = true;
        void this.#patchStatus(runtime);
      }
      if (livenessProbe) {
        schedule(livenessProbe, (ok) => {
          if (!ok && !runtime.terminating)
            void proc.stop((runtime.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000);
        });
      }
    };
    if (startupProbe) {
      let done = false;
      schedule(startupProbe, (ok) => {
        if (done) return;
        if (!ok) {
          done = true;
          void proc.stop(2000);
          return;
        }
        done = true;
        c.started = true;
        void this.#patchStatus(runtime);
        afterStartup();
      });
    } else {
      afterStartup();
    }
  }

  async #probe(probe: V1Probe, c: ContainerRuntime, runtime: PodRuntime): Promise<boolean> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    try {
      if (probe.httpGet) {
        const headers = Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value]));
        const res = await fetch(`http://127.0.0.1:${c.port}${probe.httpGet.path ?? '/'}`, {
          headers,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.body?.cancel();
        return res.status >= 200 && res.status < 400;
      }
      if (probe.tcpSocket) return await portOpen(c.port, '127.0.0.1', timeoutMs);
      if (probe.exec?.command?.length) {
        const [command = '', ...args] = probe.exec.command;
        const image = imageFor(this.#options.images, c.container, runtime);
        return await execOk(command, args, image ? await this.#env(runtime, c, image) : {}, timeoutMs);
      }
    } catch {
      return false;
    }
    return true;
  }

  async #exited(
    runtime: PodRuntime,
    c: ContainerRuntime,
    proc: Supervised,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    if (c.process !== proc) return;
    // A signal death reads as 128 + the signal's number, as container runtimes report it.
    const exitCode = code ?? 128 + (signal === null ? 1 : (constants.signals[signal] ?? 1));
    c.lastExit = { exitCode, reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: new Date() };
    c.ready = false;
    c.started = false;
    if (runtime.terminating || this.#stopped) return;
    const policy = c.sidecar ? 'Always' : (runtime.pod.spec?.restartPolicy ?? 'Always');
    const restart = policy === 'Always' || (policy === 'OnFailure' && code !== 0);
    if (!restart) {
      c.process = undefined;
      await this.#patchStatus(runtime);
      return;
    }
    c.restartCount += 1;
    c.waiting = { reason: 'CrashLoopBackOff', message: `back-off restarting ${c.container.name}` };
    await this.#patchStatus(runtime);
    await sleep(this.#options.restartDelayMs ?? 1000);
    if (c.process === proc && !runtime.terminating && !this.#stopped) await this.#startContainer(runtime, c);
  }

  /** Graceful deletion as a kubelet does it: preStop, SIGTERM, grace period, SIGKILL, remove the object. */
  async #terminate(runtime: PodRuntime): Promise<void> {
    runtime.terminating = true;
    const graceSeconds =
      runtime.pod.metadata?.deletionGracePeriodSeconds ??
      runtime.pod.spec?.terminationGracePeriodSeconds ??
      30;
    const deadline = Date.now() + graceSeconds * 1000;
    const stop = async (c: ContainerRuntime): Promise<void> => {
      const proc = c.process;
      if (proc === undefined || !proc.running) return;
      await this.#preStop(runtime, c, deadline);
      await proc.stop(Math.max(0, deadline - Date.now()));
    };
    await Promise.all(runtime.containers.filter((c) => !c.sidecar).map(stop));
    // Sidecars outlive the app containers and stop in the reverse of their start order.
    for (const c of runtime.containers.filter((c) => c.sidecar).reverse()) await stop(c);
    for (const timer of runtime.timers) clearInterval(timer);
    // As a kubelet does: report how each container ended (exit code, terminal phase) before the object
    // goes, so a watcher can tell a clean drain (exit 0) from a SIGKILL after the grace period (137).
    for (const c of runtime.containers) if (c.process?.running === false) c.process = undefined;
    await this.#patchStatus(runtime);
    await this.#deleteObject(runtime.pod);
    this.#pods.delete(runtime.key);
  }

  async #preStop(runtime: PodRuntime, c: ContainerRuntime, deadline: number): Promise<void> {
    const hook = c.container.lifecycle?.preStop;
    if (hook === undefined) return;
    const left = () => Math.max(0, deadline - Date.now());
    try {
      if (hook.sleep) await sleep(Math.min(hook.sleep.seconds * 1000, left()));
      else if (hook.exec?.command?.length) {
        const [command = '', ...args] = hook.exec.command;
        const image = imageFor(this.#options.images, c.container, runtime);
        await execOk(command, args, image ? await this.#env(runtime, c, image) : {}, left());
      } else if (hook.httpGet) {
        await fetch(`http://127.0.0.1:${c.port}${hook.httpGet.path ?? '/'}`, {
          signal: AbortSignal.timeout(left()),
        });
      }
    } catch {
      // A failing preStop hook does not stop the termination, as with a kubelet.
    }
  }

  async #forget(pod: V1Pod): Promise<void> {
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const runtime = this.#pods.get(key);
    if (runtime === undefined || runtime.pod.metadata?.uid !== pod.metadata?.uid) return;
    runtime.terminating = true;
    this.#pods.delete(key);
    for (const timer of runtime.timers) clearInterval(timer);
    // Deleted with grace 0 (or by us): nothing is left to wait for.
    await Promise.all(runtime.containers.map((c) => c.process?.kill()));
  }

  async #deleteObject(pod: V1Pod): Promise<void> {
    await this.#core
      .deleteNamespacedPod({
        name: pod.metadata?.name ?? '',
        namespace: pod.metadata?.namespace ?? 'default',
        // With a body, the apiserver reads the options from it and ignores the query's grace period.
        body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata?.uid } },
      })
      .catch((err: unknown) => {
        const code = (err as { code?: number }).code;
        // Gone already, or a newer pod of the same name (the UID precondition): nothing of ours to delete.
        if (code !== 404 && code !== 409) this.errors.push(err);
      });
  }

  /** Patches the pod's status from what the kubelet knows, one patch at a time per pod. */
  #patchStatus(runtime: PodRuntime): Promise<void> {
    runtime.statusQueue = runtime.statusQueue
      .then(() => this.#sendStatus(runtime))
      .catch((err: unknown) => {
        if ((err as { code?: number }).code !== 404) this.errors.push(err);
      });
    return runtime.statusQueue;
  }

  async #sendStatus(runtime: PodRuntime): Promise<void> {
    if (this.#pods.get(runtime.key) !== runtime) return;
    const { pod, containers } = runtime;
    const now = new Date();
    const allReady = containers.length > 0 && containers.every((c) => c.ready);
    const previous = new Map((pod.status?.conditions ?? []).map((cond) => [cond.type, cond]));
    const condition = (type: string, ok: boolean): V1PodCondition => {
      const status = ok ? 'True' : 'False';
      const before = previous.get(type);
      return {
        type,
        status,
        lastTransitionTime: before?.status === status ? before.lastTransitionTime : now,
      };
    };
    const running = containers.some((c) => c.startedAt !== undefined);
    const apps = containers.filter((c) => !c.sidecar);
    const exitedAll = apps.length > 0 && apps.every((c) => c.process === undefined && c.lastExit);
    const phase = exitedAll
      ? apps.every((c) => c.lastExit?.exitCode === 0)
        ? 'Succeeded'
        : 'Failed'
      : running
        ? 'Running'
        : 'Pending';
    const containerStatus = (c: ContainerRuntime): V1ContainerStatus => ({
      name: c.container.name,
      image: c.container.image ?? '',
      imageID: `kmaint-stand-in://${c.container.image ?? ''}`,
      containerID: c.process?.pid === undefined ? undefined : `kmaint-stand-in://${c.process.pid}`,
      ready: c.ready,
      started: c.started,
      restartCount: c.restartCount,
      state:
        c.waiting !== undefined
          ? { waiting: c.waiting }
          : c.process?.running === true
            ? { running: { startedAt: c.startedAt } }
            : c.lastExit
              ? {
                  terminated: {
                    exitCode: c.lastExit.exitCode,
                    reason: c.lastExit.reason,
                    finishedAt: c.lastExit.finishedAt,
                  },
                }
              : { waiting: { reason: 'ContainerCreating' } },
      lastState: c.lastExit && c.process?.running === true ? { terminated: { ...c.lastExit } } : {},
    });
    const sidecars = containers.filter((c) => c.sidecar);
    const status = {
      phase,
      hostIP: '198.18.0.1',
      hostIPs: [{ ip: '198.18.0.1' }],
      podIP: runtime.ip,
      podIPs: [{ ip: runtime.ip }],
      startTime: runtime.startTime,
      conditions: [
        condition('PodScheduled', true),
        condition(
          'Initialized',
          sidecars.every((c) => c.started),
        ),
        condition('ContainersReady', allReady),
        condition('Ready', allReady),
      ],
      containerStatuses: apps.map(containerStatus),
      ...(sidecars.length > 0 ? { initContainerStatuses: sidecars.map(containerStatus) } : {}),
    };
    const updated = await this.#core.patchNamespacedPodStatus(
      { name: pod.metadata?.name ?? '', namespace: pod.metadata?.namespace ?? 'default', body: { status } },
      strategicMerge,
    );
    runtime.pod = updated;
  }
}

/** The container of that name; without a name, the first app container (not a sidecar). */
function named(c: ContainerRuntime, container: string | undefined): boolean {
  return container === undefined ? !c.sidecar : c.container.name === container;
}

function decode(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
  );
}

function execOk(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env, stdio: 'ignore', timeout: timeoutMs });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}
