// The etcd side of the contract (I/O): the client from shared settings, the switch follower and the
// member reporter. Apart from the pure entry point so that pure code can import the contract alone.
export {
  checkEtcdAccess,
  createEtcdClient,
  etcdHosts,
  etcdSettingsProblem,
  type EtcdAccessContext,
  type EtcdClient,
  type EtcdConnectionOptions,
} from './etcd-client.ts';
export { SwitchWatcher, type SwitchCallbacks, type SwitchWatcherOptions } from './switch-watcher.ts';
export { MemberReporter } from './member-reporter.ts';
