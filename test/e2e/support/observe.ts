import { readFileSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { inject } from 'vitest';
import { membersPrefix, parseMemberReport, type MemberReport } from '@kmaint/common';
import { checkMemberReport } from '@kmaint/common/schemas';

/** The counters a consumer pod serves at /messages/stats (also in its 503 body during maintenance). */
export interface PodStats {
  processed: number;
  received: number;
  inFlight: number;
  state: string;
}

export async function podStats(url: string): Promise<PodStats> {
  const res = await fetch(`${url}/messages/stats`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as {
    kafka?: { processed: number; received: number; inFlight: number };
    maintenance?: { state: string };
  };
  if (body.kafka === undefined)
    throw new Error(`${url}/messages/stats answered ${res.status} without counters`);
  return { ...body.kafka, state: body.maintenance?.state ?? 'unknown' };
}

/** The member reports under a switch key, by member id; each must match the published schema. */
export async function memberReports(etcd: Etcd3, key: string): Promise<Map<string, MemberReport>> {
  const raw = await etcd.getAll().prefix(membersPrefix(key)).strings();
  const reports = new Map<string, MemberReport>();
  for (const [k, v] of Object.entries(raw)) {
    const check = checkMemberReport(v);
    if (!check.valid) throw new Error(`member report at ${k} breaks the schema: ${check.errors.join('; ')}`);
    const parsed = parseMemberReport(v);
    if (!parsed.ok) throw new Error(`unparseable member report at ${k}: ${parsed.error}`);
    reports.set(parsed.value.id, parsed.value);
  }
  return reports;
}

/** An instant query against the test environment's Prometheus: value by the `pod` label. */
export async function promQuery(expr: string): Promise<Map<string, string>> {
  const res = await fetch(`${inject('prometheusUrl')}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as {
    status: string;
    error?: string;
    data: { result: { metric: Record<string, string>; value: [number, string] }[] };
  };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${body.error}`);
  return new Map(body.data.result.map((r) => [r.metric['pod'] ?? '', r.value[1]]));
}

/** The structured (pino) lines of a container log; the kubelet's own lines and stray output are skipped. */
export function logLines(file: string): { msg?: string; level?: number; [field: string]: unknown }[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as { msg?: string }];
      } catch {
        return [];
      }
    });
}
