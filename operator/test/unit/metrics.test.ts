import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.ts';

describe('operator metrics', () => {
  it('follow the conventions: no _total on gauges, Node defaults unprefixed, build_info, queue and window gauges', async () => {
    const m = createMetrics('1.2.3');
    const all = await m.registry.getMetricsAsJSON();
    // prom-client's own Node defaults (nodejs_active_handles_total, a gauge) keep the names every Node
    // service exports; the rule is for the operator's metrics.
    for (const metric of all.filter((x) => x.name.startsWith('kmaint_'))) {
      if (String(metric.type) === 'gauge') expect(metric.name, metric.name).not.toMatch(/_total$/);
      if (String(metric.type) === 'counter') expect(metric.name, metric.name).toMatch(/_total$/);
    }
    const names = all.map((x) => x.name);
    expect(names).toContain('process_start_time_seconds');
    expect(names.filter((n) => n.startsWith('kmaint_operator_process_'))).toEqual([]);
    for (const name of [
      'kmaint_operator_build_info',
      'kmaint_operator_queue_depth',
      'kmaint_operator_queue_wait_seconds',
      'kmaint_operator_window_active',
      'kmaint_operator_window_drained',
      'kmaint_operator_reconcile_errors_total',
    ]) {
      expect(names).toContain(name);
    }
    expect(await m.registry.metrics()).toContain(
      `kmaint_operator_build_info{version="1.2.3",nodejs="${process.version}"} 1`,
    );
  });
});
