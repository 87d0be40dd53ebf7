/**
 * Everything main.ts wires on the apiserver's side, in one module so it can be imported after
 * narrowClientNode() (narrow.ts): a static import would load client-node before the hook is in place.
 */
export { CoordinationV1Api, KubeConfig } from './client.ts';
export { KedaAutoscalers } from './autoscalers.ts';
export { LeaderElector } from './leader.ts';
export { shareConnections } from './connections.ts';
export { startKubeSources } from './sources.ts';
export { KubeWindowWriter } from './windows.ts';
export { liveStatusSource } from '../status-page/source.ts';
