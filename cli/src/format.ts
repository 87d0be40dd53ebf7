import type { StatusSnapshot, WindowView } from '@kmaint/operator/status-page';

/** Columns padded to their widest cell, kubectl-style. */
export function table(rows: readonly (readonly string[])[], indent = ''): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map(
      (row) =>
        indent +
        row
          .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3)))
          .join('')
          .trimEnd(),
    )
    .join('\n');
}

function ends(w: WindowView): string {
  if (w.windowEnd !== null) return `ends ${w.windowEnd}`;
  if (w.nextStart !== null) return `next ${w.nextStart}`;
  return w.state === 'draining' || w.state === 'drained' || w.state === 'degraded' ? 'until closed' : '—';
}

/** The `status` output: one line per window, then its members with their drain progress. */
export function formatStatus(snapshot: StatusSnapshot, options: { membersShown: boolean }): string {
  if (snapshot.windows.length === 0) return 'No MaintenanceWindows found.';
  const out: string[] = [];
  out.push(
    table([
      ['NAMESPACE', 'WINDOW', 'TARGET', 'MODE', 'STATE', 'PODS', 'SCHEDULE', 'ENDS/NEXT'],
      ...snapshot.windows.map((w) => [
        w.namespace,
        w.name,
        w.key,
        w.mode,
        w.state,
        w.pods === null ? '—' : `${w.pods.drained}/${w.pods.selected}`,
        w.schedule,
        ends(w),
      ]),
    ]),
  );
  if (!options.membersShown) {
    out.push('', '(members: pass --etcd-endpoints or set ETCD_ENDPOINTS to see each consumer)');
    return out.join('\n');
  }
  if (snapshot.membersError !== null) out.push('', `members unavailable: ${snapshot.membersError}`);
  for (const w of snapshot.windows) {
    out.push('', `${w.namespace}/${w.name}${w.reason === null ? '' : ` (${w.reason})`}:`);
    if (w.members.length === 0) {
      out.push('  no member reports under the key');
      continue;
    }
    out.push(
      table(
        [
          ['MEMBER', 'STATE', 'IN-FLIGHT', 'DRAINED AFTER', 'SINCE'],
          ...w.members.map((m) => [
            m.pod ?? m.id,
            m.state,
            String(m.inFlight),
            m.drainMs === null ? '—' : `${(m.drainMs / 1000).toFixed(1)}s`,
            m.since,
          ]),
        ],
        '  ',
      ),
    );
    const done = w.members.filter((m) => m.state === 'maintenance').length;
    out.push(`  drain progress: ${done}/${w.members.length} members drained`);
  }
  return out.join('\n');
}
