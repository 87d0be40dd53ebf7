import type { KubeConfig } from './client.ts';

type RequestContext = Parameters<KubeConfig['applySecurityAuthentication']>[0];
type Dispatcher = ReturnType<RequestContext['getDispatcher']>;

/**
 * Makes every API client and watch made from `kc` share one connection pool. client-node builds a new
 * undici Agent for each request when the cluster has a CA (as in-cluster and most kubeconfigs do), so
 * every call opened its own TLS connection: a handshake per status patch for the apiserver and the
 * operator, and a secure context per request left for the garbage collector. The headers (a service
 * account token is read again each time) are still applied per request; only the connection is kept,
 * so a client certificate from the kubeconfig is the one read at the first request until a restart.
 */
export function shareConnections(kc: KubeConfig): KubeConfig {
  const apply = kc.applySecurityAuthentication.bind(kc);
  let shared: Dispatcher;
  kc.applySecurityAuthentication = async (context: RequestContext): Promise<void> => {
    await apply(context);
    const own = context.getDispatcher();
    if (own === undefined) return;
    shared ??= own;
    context.setDispatcher(shared);
  };
  return kc;
}
