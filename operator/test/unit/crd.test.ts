import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CONDITION } from '../../src/core/conditions.ts';
import { MW } from '../../src/kube/resources.ts';

// Structure only: the rules themselves are exercised against the real apiserver (integration tests).
const crd = parse(
  readFileSync(new URL('../../../crds/kmaint.io_maintenancewindows.yaml', import.meta.url), 'utf8'),
);
const version = crd.spec.versions[0];
const schema = version.schema.openAPIV3Schema;

type Node = { description?: string; properties?: Record<string, Node>; items?: Node; type?: string };

function undocumented(node: Node, path: string): string[] {
  const own = node.description === undefined && path.includes('.spec') ? [path] : [];
  const children = Object.entries(node.properties ?? {}).flatMap(([k, v]) => undocumented(v, `${path}.${k}`));
  return [...own, ...children, ...(node.items ? undocumented(node.items, `${path}[]`) : [])];
}

describe('the MaintenanceWindow CRD file', () => {
  it('registers kmaint.io/v1alpha1 MaintenanceWindow as the code expects', () => {
    expect(crd.metadata.name).toBe(`${MW.plural}.${MW.group}`);
    expect(crd.spec).toMatchObject({
      group: MW.group,
      scope: 'Namespaced',
      names: { kind: MW.kind, plural: MW.plural, shortNames: ['mw'], categories: ['kmaint'] },
    });
    expect(version).toMatchObject({
      name: MW.version,
      served: true,
      storage: true,
      subresources: { status: {} },
    });
  });

  it('keeps the documented spec names, extended by autoscaling', () => {
    const spec = schema.properties.spec.properties;
    expect(Object.keys(spec).sort()).toEqual(
      [
        'autoscaling',
        'drainTimeout',
        'maxDuration',
        'mode',
        'reason',
        'schedule',
        'suspend',
        'target',
      ].sort(),
    );
    expect(Object.keys(spec.target.properties).sort()).toEqual(['key', 'name', 'selector']);
    expect(Object.keys(spec.schedule.properties).sort()).toEqual([
      'cron',
      'duration',
      'end',
      'start',
      'timeZone',
    ]);
    expect(spec.mode).toMatchObject({ enum: ['drain', 'pause'], default: 'drain' });
  });

  it('describes every spec field', () => {
    expect(undocumented(schema.properties.spec, '.spec')).toEqual([]);
  });

  it('has the printer columns kubectl get shows', () => {
    expect(version.additionalPrinterColumns.map((c: { name: string }) => c.name)).toEqual([
      'Target',
      'Mode',
      'Active',
      'Drained',
      'Pods',
      'Next/Ends',
      'Age',
    ]);
  });

  it('documents the condition types the operator writes', () => {
    const text = schema.properties.status.properties.conditions.description as string;
    for (const type of Object.values(CONDITION)) expect(text).toContain(type);
  });
});
