import { buildWindowView } from '@kmaint/operator/status-page';
import { describe, expect, it } from 'vitest';
import { formatStatus } from '../../src/format.ts';

const view = buildWindowView(
  {
    metadata: { namespace: 'payments', name: 'broker-upgrade' },
    spec: { target: { name: 'kafka-service' }, reason: 'upgrade', schedule: { end: '2026-12-01T03:00:00Z' } },
    status: {
      windowStart: '2026-12-01T02:00:00Z',
      windowEnd: '2026-12-01T03:00:00Z',
      pods: { selected: 2, notReady: 2, drained: 1, summary: '', draining: ['b'] },
      conditions: [
        { type: 'Active', status: 'True', reason: 'WindowOpen', message: '', lastTransitionTime: '' },
      ],
    },
  },
  [
    {
      id: 'a',
      pod: 'a',
      state: 'maintenance',
      inFlight: 0,
      drainedAt: '2026-12-01T02:00:02Z',
      lastTransition: '2026-12-01T02:00:02Z',
      lastError: null,
      window: null,
    },
    {
      id: 'b',
      pod: 'b',
      state: 'draining',
      inFlight: 4,
      drainedAt: null,
      lastTransition: '2026-12-01T02:00:00Z',
      lastError: null,
      window: null,
    },
  ],
);
const snapshot = { generatedAt: '2026-12-01T02:00:05Z', windows: [view], membersError: null };

describe('kubectl kmaint status output', () => {
  it('lists windows, then each member with its in-flight count and the drain progress', () => {
    const text = formatStatus(snapshot, { membersShown: true });
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE +WINDOW +TARGET +MODE +STATE +PODS +SCHEDULE +ENDS\/NEXT$/);
    expect(lines[1]).toMatch(
      /^payments +broker-upgrade +\/maintenance\/kafka-service +drain +draining +1\/2 +from creation → 2026-12-01T03:00:00Z +ends 2026-12-01T03:00:00Z$/,
    );
    expect(text).toMatch(/ {2}a +maintenance +0 +2\.0s/);
    expect(text).toMatch(/ {2}b +draining +4 +—/);
    expect(text).toContain('drain progress: 1/2 members drained');
  });

  it('says how to see members without etcd, and when there is no window', () => {
    expect(formatStatus(snapshot, { membersShown: false })).toContain('--etcd-endpoints');
    expect(formatStatus({ ...snapshot, windows: [] }, { membersShown: true })).toBe(
      'No MaintenanceWindows found.',
    );
  });
});
