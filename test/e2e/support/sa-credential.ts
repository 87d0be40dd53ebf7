import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

// An exec credential plugin (client.authentication.k8s.io/v1) run by the operator's client: it hands
// the operator a token of its pod's ServiceAccount, as a kubelet's projected token volume would, so the
// operator reaches the apiserver with exactly the RBAC the chart grants it.
// Usage: node sa-credential.ts <admin kubeconfig> <namespace> <service account>

const [adminKubeconfig = '', namespace = '', serviceAccount = ''] = process.argv.slice(2);
const kc = new KubeConfig();
kc.loadFromFile(adminKubeconfig);
const request = await kc.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
  name: serviceAccount,
  namespace,
  body: { spec: { audiences: [], expirationSeconds: 3600 } },
});
process.stdout.write(
  JSON.stringify({
    apiVersion: 'client.authentication.k8s.io/v1',
    kind: 'ExecCredential',
    status: { token: request.status?.token, expirationTimestamp: request.status?.expirationTimestamp },
  }),
);
