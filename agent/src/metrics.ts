import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { MEMBER_STATES } from '@kmaint/common';
import type { Agent } from './agent.ts';

/** The agent's registry: process metrics and, read at scrape time, what the agent knows now. */
export function createMetrics(agent: Agent): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Gauges named *_total belong to counters by Prometheus' rules; the same numbers exist without it.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(name);
  const registers = [registry];
  new Gauge({
    name: 'kmaint_agent_ready',
    help: 'Whether the agent reports the pod ready (1) or not (0).',
    registers,
    collect() {
      this.set(agent.status().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kmaint_agent_app_responding',
    help: 'Whether the app polled or reported within APP_TIMEOUT (1) or not (0).',
    registers,
    collect() {
      this.set(agent.status().appResponding ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kmaint_agent_app_state',
    help: 'The state the app last reported: 1 for that state, 0 for the others.',
    labelNames: ['state'],
    registers,
    collect() {
      const current = agent.status().appState;
      for (const state of MEMBER_STATES) this.set({ state }, state === current ? 1 : 0);
    },
  });
  new Gauge({
    name: 'kmaint_agent_switch_generation',
    help: 'How many different desired states the agent has read from the switch.',
    registers,
    collect() {
      this.set(agent.status().generation);
    },
  });
  new Gauge({
    name: 'kmaint_agent_etcd_up',
    help: 'Whether the switch could be read from etcd (1) or not (0).',
    registers,
    collect() {
      this.set(agent.status().etcdHealthy ? 1 : 0);
    },
  });
  return registry;
}
