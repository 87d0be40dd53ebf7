import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadConfig as loadOperatorConfig,
  variableNames as operatorVariableNames,
} from '../../../operator/src/config.ts';
import { describeVariables, loadConfig as loadServiceConfig } from '../../../service/src/config.ts';
import { findObject, render, repoRoot, runOk, type K8sObject } from './tools.ts';

// The environment the chart and docker-compose.yml give the programs, read by the programs' own
// configuration loaders: every variable is one they know, and every value parses to what was meant.

type EnvVar = { name: string; value?: string; valueFrom?: unknown };

/** The literal variables of a container, with the downward API filled in as the kubelet would. */
function containerEnv(deployment: K8sObject, container: string): Record<string, string> {
  const c = deployment.spec.template.spec.containers.find((x: { name: string }) => x.name === container);
  return Object.fromEntries(
    (c.env as EnvVar[]).map((e) => [
      e.name,
      e.value ?? `${deployment.metadata.name}-from-${e.name.toLowerCase()}`,
    ]),
  );
}

const serviceVariables = new Set(describeVariables().map((v) => v.name));
const operatorVariables = new Set(operatorVariableNames());

describe('the chart configures the programs with variables they know and values they accept', () => {
  it('example consumer → service config', async () => {
    const env = containerEnv(
      findObject(await render({ consumer: { enabled: true } }), 'Deployment', 'kafka-service'),
      'consumer',
    );
    for (const name of Object.keys(env)) expect(serviceVariables, name).toContain(name);
    const config = loadServiceConfig(env);
    expect(config).toMatchObject({
      httpPort: 8083,
      drainTimeoutMs: 45_000,
      shutdownGracePeriodMs: 55_000,
      maxWorkers: 5,
      maintenanceKey: '/maintenance/kafka-service',
      consumerGroup: 'gomaint-consumer-group',
    });
  });

  it('operator → operator config', async () => {
    const env = containerEnv(findObject(await render(), 'Deployment', 'kmaint-operator'), 'operator');
    for (const name of Object.keys(env)) expect(operatorVariables, name).toContain(name);
    const config = loadOperatorConfig(env);
    expect(config).toMatchObject({
      httpPort: 8080,
      etcd: { hosts: ['http://etcd:2379'] },
      watchNamespace: null,
      leaderElection: true,
      leaseNamespace: 'kmaint-system',
      leaseName: 'kmaint-operator',
      leaseDurationMs: 15_000,
      resyncPeriodMs: 300_000,
    });
  });

  it('operator with watchNamespace and without leader election', async () => {
    const objects = await render({
      operator: { watchNamespace: 'payments', leaderElection: { enabled: false } },
    });
    const config = loadOperatorConfig(
      containerEnv(findObject(objects, 'Deployment', 'kmaint-operator'), 'operator'),
    );
    expect(config).toMatchObject({ watchNamespace: 'payments', leaderElection: false });
  });
});

describe('docker-compose.yml configures the service with variables it knows and values it accepts', () => {
  it('kafka-service → service config', async () => {
    const built = await runOk('bash', [join(repoRoot, 'test/env/build-compose.sh')], { timeoutMs: 900_000 });
    const compose = built.trim().split('\n').pop() ?? '';
    const model = JSON.parse(
      await runOk(compose, ['-f', 'docker-compose.yml', 'config', '--format', 'json']),
    ) as {
      services: Record<string, { environment: Record<string, string> }>;
    };
    const env = model.services['kafka-service']?.environment ?? {};
    for (const name of Object.keys(env)) expect(serviceVariables, name).toContain(name);
    expect(loadServiceConfig(env)).toMatchObject({
      httpPort: 8083,
      drainTimeoutMs: 45_000,
      memberId: 'kafka-service',
    });
  }, 900_000);
});
