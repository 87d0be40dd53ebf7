import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../test/env/helpers.ts';
import { kubectl } from '../../../test/env/tools.ts';
import {
  createNamespace,
  createWindow,
  getWindow,
  installCrd,
  kube,
  patchWindowSpec,
  removeNamespaces,
} from './support.ts';

const k = kube();
const namespace = uniqueName('mw-crd');
const target = { name: 'kafka-service' };

// Each spec is refused by the apiserver itself (schema + CEL), with the sentence a person reads.
const invalid: [string, Record<string, unknown>, string][] = [
  ['no target', { mode: 'drain' }, 'spec.target: Required value'],
  [
    'both name and key',
    { target: { name: 'a', key: '/maintenance/a' } },
    'set exactly one of target.name or target.key',
  ],
  [
    'neither name nor key',
    { target: { selector: { matchLabels: { app: 'x' } } } },
    'set exactly one of target.name or target.key',
  ],
  [
    'a key that is not absolute',
    { target: { key: 'maintenance/a' } },
    'target.key must be an absolute etcd key',
  ],
  ['a name with a slash', { target: { name: 'a/b' } }, 'target.name must start with a letter or digit'],
  ['an unknown mode', { target, mode: 'stop' }, 'spec.mode: Unsupported value'],
  ['a zero drain timeout', { target, drainTimeout: '0s' }, 'drainTimeout must be a positive duration'],
  [
    'a drain timeout without unit',
    { target, drainTimeout: '45' },
    'drainTimeout must be a positive duration',
  ],
  ['a negative maxDuration', { target, maxDuration: '-4h' }, 'maxDuration must be a positive duration'],
  [
    'end before start',
    { target, schedule: { start: '2026-12-01T03:00:00Z', end: '2026-12-01T02:00:00Z' } },
    'schedule.end must be after schedule.start',
  ],
  [
    'end equal to start',
    { target, schedule: { start: '2026-12-01T03:00:00Z', end: '2026-12-01T03:00:00Z' } },
    'schedule.end must be after schedule.start',
  ],
  ['a start that is no time', { target, schedule: { start: 'tomorrow' } }, 'spec.schedule.start'],
  [
    'start/end and cron together',
    { target, schedule: { start: '2026-12-01T02:00:00Z', cron: '0 2 * * SUN', duration: '1h' } },
    'use either start/end or cron with duration, not both',
  ],
  ['cron without duration', { target, schedule: { cron: '0 2 * * SUN' } }, 'cron and duration go together'],
  ['duration without cron', { target, schedule: { duration: '1h' } }, 'cron and duration go together'],
  [
    'a cron with three fields',
    { target, schedule: { cron: '0 2 *', duration: '1h' } },
    'cron must have five fields',
  ],
  [
    'a zero cron duration',
    { target, schedule: { cron: '0 2 * * SUN', duration: '0s' } },
    'schedule.duration must be a positive duration',
  ],
  [
    'timeZone without cron',
    { target, schedule: { timeZone: 'Europe/Berlin' } },
    'timeZone applies to cron schedules only',
  ],
  [
    'a timeZone that is no zone name',
    { target, schedule: { cron: '0 2 * * *', duration: '1h', timeZone: 'UTC+2 hours' } },
    'timeZone must be an IANA time zone name',
  ],
  [
    'In without values',
    { target: { name: 'a', selector: { matchExpressions: [{ key: 'app', operator: 'In' }] } } },
    'In and NotIn need at least one value',
  ],
];

const valid: [string, Record<string, unknown>][] = [
  [
    'the README example',
    {
      target: { name: 'kafka-service', selector: { matchLabels: { app: 'kafka-service' } } },
      mode: 'drain',
      drainTimeout: '45s',
      reason: 'Kafka 4.1 rolling upgrade',
      schedule: { start: '2026-12-01T02:00:00Z', end: '2026-12-01T03:00:00Z' },
      maxDuration: '4h',
      suspend: false,
    },
  ],
  ['a bare target', { target: { key: '/maintenance/payments-consumer' } }],
  [
    'a recurring window',
    { target, mode: 'pause', schedule: { cron: '0 2 * * SUN', duration: '1h', timeZone: 'Europe/Berlin' } },
  ],
  ['a cron with seconds', { target, schedule: { cron: '*/20 * * * * *', duration: '5s' } }],
  ['a predefined cron', { target, schedule: { cron: '@daily', duration: '90m' } }],
  ['only an end', { target, schedule: { end: '2030-01-01T00:00:00+02:00' } }],
];

describe('the MaintenanceWindow CRD on a real kube-apiserver', () => {
  beforeAll(async () => {
    await installCrd(k);
    await createNamespace(k, namespace);
  });
  afterAll(() => removeNamespaces(k));

  it.each(invalid)('refuses %s', async (_what, spec, message) => {
    const err = await createWindow(k, namespace, uniqueName('bad'), spec).then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: string },
    );
    expect(err?.code, 'expected a 422 from the apiserver').toBe(422);
    expect(String(err?.body)).toContain(message);
  });

  it.each(valid)('accepts %s', async (_what, spec) => {
    const name = uniqueName('good');
    await createWindow(k, namespace, name, spec);
    const stored = (await getWindow(k, namespace, name)) as unknown as { spec: Record<string, unknown> };
    expect(stored.spec).toMatchObject(spec);
  });

  it('fills in the defaults: mode drain, drainTimeout 45s, suspend false', async () => {
    const name = uniqueName('defaults');
    await createWindow(k, namespace, name, { target });
    const stored = (await getWindow(k, namespace, name)) as unknown as { spec: Record<string, unknown> };
    expect(stored.spec).toEqual({ target, mode: 'drain', drainTimeout: '45s', suspend: false });
  });

  it('keeps the target immutable but lets the rest change', async () => {
    const name = uniqueName('immutable');
    await createWindow(k, namespace, name, { target });
    await patchWindowSpec(k, namespace, name, { reason: 'changed', suspend: true });
    const err = await patchWindowSpec(k, namespace, name, { target: { name: 'other-service' } }).then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: string },
    );
    expect(err?.code).toBe(422);
    expect(String(err?.body)).toContain('target.name and target.key are immutable');
  });

  it('rejects a bad window through kubectl apply with the message', async () => {
    const manifest = JSON.stringify({
      apiVersion: 'kmaint.io/v1alpha1',
      kind: 'MaintenanceWindow',
      metadata: { name: uniqueName('kubectl-bad'), namespace },
      spec: { target, schedule: { start: '2026-12-01T03:00:00Z', end: '2026-12-01T02:00:00Z' } },
    });
    const file = `${process.env['TMPDIR'] ?? '/tmp'}/${uniqueName('mw')}.json`;
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(file, manifest);
    try {
      const err = await kubectl(['apply', '-f', file]).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err?.message).toContain('schedule.end must be after schedule.start');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('kubectl explain shows the field descriptions, by the short name', async () => {
    const { stdout } = await kubectl(['explain', 'mw.spec']);
    expect(stdout).toContain('KIND:       MaintenanceWindow');
    expect(stdout).toContain('drain: the consumers leave their group');
    expect(stdout).toContain('Safety cap for a forgotten window');
    const schedule = await kubectl(['explain', 'mw.spec.schedule.cron']);
    expect(schedule.stdout).toContain('five fields');
  });

  it('kubectl get mw prints the columns', async () => {
    const { stdout } = await kubectl(['get', 'mw', '-n', namespace]);
    const header = stdout.split('\n')[0]?.split(/\s{2,}/);
    expect(header).toEqual(['NAME', 'TARGET', 'MODE', 'ACTIVE', 'DRAINED', 'PODS', 'NEXT/ENDS', 'AGE']);
  });
});
