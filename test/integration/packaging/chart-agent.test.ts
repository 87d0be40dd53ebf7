import { describe, expect, it } from 'vitest';
import { findObject, helmTemplate, render, type K8sObject } from './tools.ts';

// consumer.agent.*: kmaint-agent as a native sidecar beside any consumer image (docs/protocol.md).

interface Container {
  name: string;
  image: string;
  restartPolicy?: string;
  env: { name: string; value?: string; valueFrom?: unknown }[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: { httpGet: { path: string; port: string } };
  startupProbe?: unknown;
  livenessProbe?: unknown;
}

const env = (c: Container): Map<string, unknown> =>
  new Map(c.env.map((e) => [e.name, e.value ?? e.valueFrom]));

async function pod(consumer: Record<string, unknown>): Promise<{
  objects: K8sObject[];
  init: Container[];
  app: Container;
}> {
  const objects = await render({ consumer: { enabled: true, ...consumer } });
  const spec = findObject(objects, 'Deployment', 'kafka-service').spec.template.spec;
  return { objects, init: spec.initContainers ?? [], app: spec.containers[0] };
}

describe('the chart with consumer.agent.enabled', () => {
  it('adds the agent as a native sidecar whose readiness is the pod’s, and points the app at it', async () => {
    const { init, app, objects } = await pod({
      image: { repository: 'example/java-consumer', tag: '1.0', pullPolicy: 'IfNotPresent' },
      target: 'payments',
      agent: { enabled: true, port: 9090, appTimeout: '20s' },
    });
    const agent = init.find((c) => c.name === 'kmaint-agent');
    expect(agent).toMatchObject({
      image: 'kmaint/agent:0.1.0',
      restartPolicy: 'Always',
      ports: [{ name: 'agent', containerPort: 9090 }],
      readinessProbe: { httpGet: { path: '/readyz', port: 'agent' } },
    });
    const vars = env(agent as Container);
    expect(vars.get('AGENT_PORT')).toBe('9090');
    expect(vars.get('MAINTENANCE_KEY')).toBe('/maintenance/payments');
    expect(vars.get('APP_TIMEOUT')).toBe('20s');
    expect(vars.get('POD_NAME')).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    expect(vars.get('ETCD_ENDPOINTS')).toBe('http://etcd:2379');

    // The app needs no HTTP server: no port, no probes; the agent is on localhost.
    expect(app.image).toBe('example/java-consumer:1.0');
    expect(env(app).get('KMAINT_AGENT_URL')).toBe('http://127.0.0.1:9090');
    expect(app.ports).toBeUndefined();
    expect(app.readinessProbe).toBeUndefined();
    expect(app.startupProbe).toBeUndefined();
    expect(app.livenessProbe).toBeUndefined();
    expect(findObject(objects, 'Service', 'kafka-service').spec.ports[0].targetPort).toBe('agent');
  });

  it('starts the agent after the plain init containers and before the other sidecars', async () => {
    const { init } = await pod({
      initContainers: [{ name: 'wait-for-kafka', image: 'busybox:1.37', command: ['true'] }],
      sidecars: [{ name: 'proxy', image: 'envoyproxy/envoy:v1.36.2' }],
      agent: { enabled: true },
    });
    expect(init.map((c) => [c.name, c.restartPolicy])).toEqual([
      ['wait-for-kafka', undefined],
      ['kmaint-agent', 'Always'],
      ['proxy', 'Always'],
    ]);
  });

  it('leaves the consumer as it was when off', async () => {
    const { init, app, objects } = await pod({});
    expect(init).toEqual([]);
    expect(env(app).has('KMAINT_AGENT_URL')).toBe(false);
    expect(app.readinessProbe).toMatchObject({ httpGet: { path: '/readyz', port: 'http' } });
    expect(findObject(objects, 'Service', 'kafka-service').spec.ports[0].targetPort).toBe('http');
  });

  it.each([
    [{ agent: { enabled: 'yes' } }, "at '/consumer/agent/enabled'"],
    [{ agent: { appTimeout: 'soon' } }, "at '/consumer/agent/appTimeout'"],
    [{ agent: { port: 0 } }, "at '/consumer/agent/port'"],
    [{ agent: { sidecar: true } }, "at '/consumer/agent'"],
  ])('refuses %j', async (consumer, message) => {
    const result = await helmTemplate({ consumer });
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error).toContain(message);
  });
});
