/**
 * The parts of @kubernetes/client-node the operator uses, each imported from its own module rather than
 * the package's entry point, which loads every API group's client and model (~25 MB of generated source,
 * ~20 MiB of the operator's memory). The three API clients are built here from client-node's generated
 * request factories and response processors, as its own ObjectParamAPI classes are, with the same
 * parameters and results: that module holds the clients of every group in one file. The kube adapters
 * import client-node only through this module (types aside); see narrow.ts for the rest of the saving.
 */
import type {
  CoordinationV1Api as FullCoordinationV1Api,
  CoreV1Api as FullCoreV1Api,
  CustomObjectsApi as FullCustomObjectsApi,
} from '@kubernetes/client-node';
import {
  type Configuration,
  type ConfigurationOptions,
  mergeConfiguration,
} from '@kubernetes/client-node/dist/gen/configuration.js';
import type { RequestContext, ResponseContext } from '@kubernetes/client-node/dist/gen/http/http.js';
import {
  CoordinationV1ApiRequestFactory,
  CoordinationV1ApiResponseProcessor,
} from '@kubernetes/client-node/dist/gen/apis/CoordinationV1Api.js';
import {
  CoreV1ApiRequestFactory,
  CoreV1ApiResponseProcessor,
} from '@kubernetes/client-node/dist/gen/apis/CoreV1Api.js';
import {
  CustomObjectsApiRequestFactory,
  CustomObjectsApiResponseProcessor,
} from '@kubernetes/client-node/dist/gen/apis/CustomObjectsApi.js';

export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
export { ListWatch } from '@kubernetes/client-node/dist/cache.js';
export { Watch } from '@kubernetes/client-node/dist/watch.js';
export { ApiException } from '@kubernetes/client-node/dist/gen/apis/exception.js';
export { PatchStrategy } from '@kubernetes/client-node/dist/patch.js';
export { setHeaderOptions } from '@kubernetes/client-node/dist/middleware.js';
export { V1MicroTime } from '@kubernetes/client-node/dist/types.js';
export type {
  Informer,
  KubernetesListObject,
  KubernetesObject,
  ObjectCache,
  V1Lease,
  V1Pod,
} from '@kubernetes/client-node';

/**
 * One call as client-node's ObservableAPI makes it: the call's options merged into the client's
 * configuration, the request built, the middleware's pre hooks, the send, the post hooks in reverse,
 * then the response processed (which throws an ApiException for an error status).
 */
async function send<T>(
  base: Configuration,
  options: ConfigurationOptions | undefined,
  request: (config: Configuration) => Promise<RequestContext>,
  process: (response: ResponseContext) => Promise<{ data: T }>,
): Promise<T> {
  const config = mergeConfiguration(base, options);
  let context = await request(config);
  for (const m of config.middleware) context = await m.pre(context).toPromise();
  let response = await config.httpApi.send(context).toPromise();
  for (const m of [...config.middleware].reverse()) response = await m.post(response).toPromise();
  return (await process(response)).data;
}

type Param<F extends (...args: never[]) => unknown> = Parameters<F>[0];

type CustomObjectsMethods =
  | 'listClusterCustomObject'
  | 'listNamespacedCustomObject'
  | 'getNamespacedCustomObject'
  | 'patchNamespacedCustomObject'
  | 'patchNamespacedCustomObjectStatus';

/** client-node's CustomObjectsApi, the methods the operator calls. */
export class CustomObjectsApi implements Pick<FullCustomObjectsApi, CustomObjectsMethods> {
  private readonly config: Configuration;
  private readonly factory: CustomObjectsApiRequestFactory;
  private readonly processor = new CustomObjectsApiResponseProcessor();

  constructor(config: Configuration) {
    this.config = config;
    this.factory = new CustomObjectsApiRequestFactory(config);
  }

  listClusterCustomObject(
    p: Param<FullCustomObjectsApi['listClusterCustomObject']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCustomObjectsApi['listClusterCustomObject']> {
    return send(
      this.config,
      options,
      (c) =>
        this.factory.listClusterCustomObject(
          p.group,
          p.version,
          p.plural,
          p.pretty,
          p.allowWatchBookmarks,
          p._continue,
          p.fieldSelector,
          p.labelSelector,
          p.limit,
          p.resourceVersion,
          p.resourceVersionMatch,
          p.timeoutSeconds,
          p.watch,
          c,
        ),
      (r) => this.processor.listClusterCustomObjectWithHttpInfo(r),
    );
  }

  listNamespacedCustomObject(
    p: Param<FullCustomObjectsApi['listNamespacedCustomObject']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCustomObjectsApi['listNamespacedCustomObject']> {
    return send(
      this.config,
      options,
      (c) =>
        this.factory.listNamespacedCustomObject(
          p.group,
          p.version,
          p.namespace,
          p.plural,
          p.pretty,
          p.allowWatchBookmarks,
          p._continue,
          p.fieldSelector,
          p.labelSelector,
          p.limit,
          p.resourceVersion,
          p.resourceVersionMatch,
          p.timeoutSeconds,
          p.watch,
          c,
        ),
      (r) => this.processor.listNamespacedCustomObjectWithHttpInfo(r),
    );
  }

  getNamespacedCustomObject(
    p: Param<FullCustomObjectsApi['getNamespacedCustomObject']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCustomObjectsApi['getNamespacedCustomObject']> {
    return send(
      this.config,
      options,
      (c) => this.factory.getNamespacedCustomObject(p.group, p.version, p.namespace, p.plural, p.name, c),
      (r) => this.processor.getNamespacedCustomObjectWithHttpInfo(r),
    );
  }

  patchNamespacedCustomObject(
    p: Param<FullCustomObjectsApi['patchNamespacedCustomObject']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCustomObjectsApi['patchNamespacedCustomObject']> {
    return send(
      this.config,
      options,
      (c) =>
        this.factory.patchNamespacedCustomObject(
          p.group,
          p.version,
          p.namespace,
          p.plural,
          p.name,
          p.body,
          p.dryRun,
          p.fieldManager,
          p.fieldValidation,
          p.force,
          c,
        ),
      (r) => this.processor.patchNamespacedCustomObjectWithHttpInfo(r),
    );
  }

  patchNamespacedCustomObjectStatus(
    p: Param<FullCustomObjectsApi['patchNamespacedCustomObjectStatus']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCustomObjectsApi['patchNamespacedCustomObjectStatus']> {
    return send(
      this.config,
      options,
      (c) =>
        this.factory.patchNamespacedCustomObjectStatus(
          p.group,
          p.version,
          p.namespace,
          p.plural,
          p.name,
          p.body,
          p.dryRun,
          p.fieldManager,
          p.fieldValidation,
          p.force,
          c,
        ),
      (r) => this.processor.patchNamespacedCustomObjectStatusWithHttpInfo(r),
    );
  }
}

/** client-node's CoreV1Api, the methods the operator calls. */
export class CoreV1Api implements Pick<FullCoreV1Api, 'listNamespacedPod' | 'createNamespacedEvent'> {
  private readonly config: Configuration;
  private readonly factory: CoreV1ApiRequestFactory;
  private readonly processor = new CoreV1ApiResponseProcessor();

  constructor(config: Configuration) {
    this.config = config;
    this.factory = new CoreV1ApiRequestFactory(config);
  }

  listNamespacedPod(
    p: Param<FullCoreV1Api['listNamespacedPod']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCoreV1Api['listNamespacedPod']> {
    return send(
      this.config,
      options,
      (c) =>
        this.factory.listNamespacedPod(
          p.namespace,
          p.pretty,
          p.allowWatchBookmarks,
          p._continue,
          p.fieldSelector,
          p.labelSelector,
          p.limit,
          p.resourceVersion,
          p.resourceVersionMatch,
          p.sendInitialEvents,
          p.shardSelector,
          p.timeoutSeconds,
          p.watch,
          c,
        ),
      (r) => this.processor.listNamespacedPodWithHttpInfo(r),
    );
  }

  createNamespacedEvent(
    p: Param<FullCoreV1Api['createNamespacedEvent']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCoreV1Api['createNamespacedEvent']> {
    return send(
      this.config,
      options,
      (c) =>
        this.factory.createNamespacedEvent(
          p.namespace,
          p.body,
          p.pretty,
          p.dryRun,
          p.fieldManager,
          p.fieldValidation,
          c,
        ),
      (r) => this.processor.createNamespacedEventWithHttpInfo(r),
    );
  }
}

type LeaseMethods = 'readNamespacedLease' | 'replaceNamespacedLease' | 'createNamespacedLease';

/** client-node's CoordinationV1Api, the methods the leader election calls. */
export class CoordinationV1Api implements Pick<FullCoordinationV1Api, LeaseMethods> {
  private readonly config: Configuration;
  private readonly factory: CoordinationV1ApiRequestFactory;
  private readonly processor = new CoordinationV1ApiResponseProcessor();

  constructor(config: Configuration) {
    this.config = config;
    this.factory = new CoordinationV1ApiRequestFactory(config);
  }

  readNamespacedLease(
    p: Param<FullCoordinationV1Api['readNamespacedLease']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCoordinationV1Api['readNamespacedLease']> {
    return send(
      this.config,
      options,
      (c) => this.factory.readNamespacedLease(p.name, p.namespace, p.pretty, c),
      (r) => this.processor.readNamespacedLeaseWithHttpInfo(r),
    );
  }

  replaceNamespacedLease(
    p: Param<FullCoordinationV1Api['replaceNamespacedLease']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCoordinationV1Api['replaceNamespacedLease']> {
    return send(
      this.config,
      options,
      (c) =>
        this.factory.replaceNamespacedLease(
          p.name,
          p.namespace,
          p.body,
          p.pretty,
          p.dryRun,
          p.fieldManager,
          p.fieldValidation,
          c,
        ),
      (r) => this.processor.replaceNamespacedLeaseWithHttpInfo(r),
    );
  }

  createNamespacedLease(
    p: Param<FullCoordinationV1Api['createNamespacedLease']>,
    options?: ConfigurationOptions,
  ): ReturnType<FullCoordinationV1Api['createNamespacedLease']> {
    return send(
      this.config,
      options,
      (c) =>
        this.factory.createNamespacedLease(
          p.namespace,
          p.body,
          p.pretty,
          p.dryRun,
          p.fieldManager,
          p.fieldValidation,
          c,
        ),
      (r) => this.processor.createNamespacedLeaseWithHttpInfo(r),
    );
  }
}
