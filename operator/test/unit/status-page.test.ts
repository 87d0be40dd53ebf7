import type { MemberReport } from '@kmaint/common';
import { describe, expect, it } from 'vitest';
import type { WindowObject } from '../../src/kube/resources.ts';
import { buildWindowView, describeSchedule } from '../../src/status-page/model.ts';
import { renderContent, renderPage } from '../../src/status-page/render.ts';

const condition = (type: string, status: string, reason: string) => ({
  type,
  status,
  reason,
  message: `${type} ${reason}`,
  lastTransitionTime: '2026-12-01T02:00:00Z',
});

const window = (status: Record<string, unknown>, spec: Record<string, unknown> = {}): WindowObject => ({
  metadata: { namespace: 'payments', name: 'broker-upgrade' },
  spec: { target: { name: 'kafka-service' }, reason: 'Kafka <4.1> upgrade', ...spec },
  status,
});

const member = (
  id: string,
  state: MemberReport['state'],
  drainedAt: string | null,
  inFlight = 0,
): MemberReport => ({
  id,
  pod: id,
  state,
  inFlight,
  drainedAt,
  lastTransition: drainedAt ?? '2026-12-01T02:00:00Z',
  lastError: null,
  window: 'payments/broker-upgrade',
});

const open = {
  windowStart: '2026-12-01T02:00:00Z',
  windowEnd: '2026-12-01T03:00:00Z',
  pods: { selected: 2, notReady: 2, drained: 1, summary: '1/2 drained', draining: ['b'] },
  conditions: [condition('Active', 'True', 'WindowOpen'), condition('Drained', 'False', 'Draining')],
};

describe('the status page model', () => {
  it('names the state from the conditions', () => {
    expect(buildWindowView(window(open), []).state).toBe('draining');
    const drained = {
      ...open,
      conditions: [condition('Active', 'True', 'WindowOpen'), condition('Drained', 'True', 'AllDrained')],
    };
    expect(buildWindowView(window(drained), []).state).toBe('drained');
    const degraded = {
      ...open,
      conditions: [...open.conditions, condition('Degraded', 'True', 'DrainTimeoutExceeded')],
    };
    expect(buildWindowView(window(degraded), []).state).toBe('degraded');
    const upcoming = {
      conditions: [condition('Scheduled', 'True', 'Upcoming'), condition('Active', 'False', 'NotStarted')],
    };
    expect(buildWindowView(window(upcoming), []).state).toBe('scheduled');
    expect(buildWindowView(window({}), []).state).toBe('waiting');
    const deleting = window(open);
    deleting.metadata.deletionTimestamp = '2026-12-01T02:30:00Z';
    expect(buildWindowView(deleting, []).state).toBe('deleting');
  });

  it("takes each member's state and in-flight count, and its drain time from the window start", () => {
    const view = buildWindowView(window(open), [
      member('b', 'draining', null, 3),
      member('a', 'maintenance', '2026-12-01T02:00:01.250Z'),
    ]);
    expect(view.key).toBe('/maintenance/kafka-service');
    expect(view.members.map((m) => [m.id, m.state, m.inFlight, m.drainMs])).toEqual([
      ['a', 'maintenance', 0, 1250],
      ['b', 'draining', 3, null],
    ]);
  });

  it('describes schedules in words', () => {
    expect(describeSchedule(undefined)).toBe('open until deleted');
    expect(describeSchedule({ start: '2026-12-01T02:00:00Z' })).toBe('2026-12-01T02:00:00Z → until deleted');
    expect(describeSchedule({ cron: '0 2 * * SUN', duration: '1h', timeZone: 'Europe/Berlin' })).toBe(
      '0 2 * * SUN for 1h (Europe/Berlin)',
    );
  });
});

describe('the status page', () => {
  const snapshot = {
    generatedAt: '2026-12-01T02:10:00.000Z',
    windows: [buildWindowView(window(open), [member('a', 'maintenance', '2026-12-01T02:00:01.250Z')])],
    membersError: null,
  };

  it('renders windows, members and drain times, escaping what users wrote', () => {
    const html = renderContent(snapshot);
    expect(html).toContain('data-window="payments/broker-upgrade" data-state="draining"');
    expect(html).toContain('Kafka &lt;4.1&gt; upgrade');
    expect(html).not.toContain('<4.1>');
    expect(html).toContain('data-member="a" data-state="maintenance"');
    expect(html).toContain('1.3 s');
    expect(html).toContain('still draining: b');
  });

  it('is a whole page with no external resources, updating itself', () => {
    const page = renderPage(snapshot);
    expect(page).toMatch(/^<!doctype html>/);
    expect(page).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(page).toContain("fetch('status?fragment=1'");
    expect(page).toContain('<noscript><meta http-equiv="refresh"');
  });

  it('says so when member reports cannot be read, and when there is no window', () => {
    expect(renderContent({ ...snapshot, windows: [], membersError: 'etcd unavailable' })).toMatch(
      /Member reports unavailable: etcd unavailable[\s\S]*No MaintenanceWindows/,
    );
  });
});
