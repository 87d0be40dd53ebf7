import { execFile } from 'node:child_process';
import { BlockList, isIPv4 } from 'node:net';
import { promisify } from 'node:util';
import { EnvError } from './errors.ts';

const run = promisify(execFile);

/**
 * The real node's pod network: the CNI bridge its pods are attached to (real-node.sh's conflist) and
 * the host's address on it, the bridge's gateway. Kafka, etcd and the apiserver of the test environment
 * also listen on that address, as a pod on the bridge cannot reach the host's 127.0.0.1; the kubelet
 * uses it as its node IP. There is no kube-proxy, so pods are given these addresses directly.
 */
export const podNetwork = {
  bridge: 'kmaint0',
  subnet: '198.18.10.0/24',
  hostAddress: '198.18.10.1',
  prefixLength: 24,
} as const;

const pods = new BlockList();
pods.addSubnet(podNetwork.subnet.split('/')[0] ?? '', podNetwork.prefixLength);

/** Whether an address is on the pod network (a real node's pod IP). */
export function onPodNetwork(address: string): boolean {
  return isIPv4(address) && pods.check(address);
}

/**
 * Creates the bridge with the gateway address, up, unless it is there: what the CNI bridge plugin
 * would make on the first pod, made first so that servers can listen on it before any pod exists. It
 * is left in place at the end (as a host's network would be), so runs one after another share it.
 */
export async function ensurePodBridge(): Promise<void> {
  const { bridge, hostAddress, prefixLength } = podNetwork;
  const ip = async (args: string[]) => {
    try {
      return (await run('ip', args)).stdout;
    } catch (err) {
      const detail = (err as { stderr?: string }).stderr ?? (err as Error).message;
      throw new EnvError('ENV_POD_NETWORK', `ip ${args.join(' ')} failed (root is needed): ${detail}`, {
        cause: err,
      });
    }
  };
  const exists = await run('ip', ['link', 'show', bridge]).then(
    () => true,
    () => false,
  );
  if (!exists) await ip(['link', 'add', bridge, 'type', 'bridge']);
  const addresses = await ip(['-o', '-4', 'addr', 'show', 'dev', bridge]);
  if (!addresses.includes(` ${hostAddress}/`))
    await ip(['addr', 'add', `${hostAddress}/${prefixLength}`, 'dev', bridge]);
  await ip(['link', 'set', bridge, 'up']);
}
