import type { MemberView, StatusSnapshot, WindowView } from './model.ts';

/** Every interpolated value goes through this: window names, reasons and errors are user input. */
export function escapeHtml(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}
const h = escapeHtml;

const STYLE = `
:root { --ok: #1a7f37; --busy: #9a6700; --bad: #cf222e; --idle: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #24292f; color: #fff; padding: 12px 24px; display: flex; gap: 16px; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
header .meta { color: #c9d1d9; font-size: 12px; }
main { padding: 16px 24px; max-width: 1200px; }
.empty, .note { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 16px; }
.note { border-color: var(--bad); color: var(--bad); margin-bottom: 12px; }
section.window { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
section.window h2 { font-size: 16px; margin: 0 0 4px; display: flex; gap: 8px; align-items: center; }
.badge { font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 10px; color: #fff; background: var(--idle); }
.badge.drained, .badge.running { background: var(--ok); }
.badge.maintenance { background: #0969da; }
.badge.draining, .badge.resuming, .badge.scheduled { background: var(--busy); }
.badge.degraded, .badge.invalid { background: var(--bad); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dt { color: var(--idle); } dd { margin: 0; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; width: 100%; margin-top: 8px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); font-size: 13px; }
th { color: var(--idle); font-weight: 600; }
.timeline { position: relative; height: 26px; background: #eaeef2; border-radius: 4px; margin: 8px 0 2px; }
.timeline .span { position: absolute; top: 4px; bottom: 4px; background: var(--busy); border-radius: 3px; opacity: .85; }
.timeline .span.next { background: var(--idle); opacity: .5; }
.timeline .now { position: absolute; top: 0; bottom: 0; width: 2px; background: var(--bad); }
.axis { display: flex; justify-content: space-between; color: var(--idle); font-size: 11px; }
`;

// Replaces the content with a fresh server rendering every 2 s; the page works without it (noscript refresh).
const SCRIPT = `
(() => {
  const content = document.getElementById('content');
  const tick = async () => {
    try {
      const res = await fetch('status?fragment=1', { cache: 'no-store' });
      if (res.ok) content.innerHTML = await res.text();
    } catch { /* the operator restarts: try again next tick */ }
  };
  setInterval(tick, 2000);
})();
`;

export function renderPage(snapshot: StatusSnapshot): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kmaint — maintenance windows</title>
<noscript><meta http-equiv="refresh" content="5"></noscript>
<style>${STYLE}</style>
</head>
<body>
<header><h1>kmaint</h1><span class="meta">maintenance windows, live</span></header>
<main id="content">${renderContent(snapshot)}</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}

/** The part that updates: what `?fragment=1` returns. */
export function renderContent(snapshot: StatusSnapshot): string {
  const now = Date.parse(snapshot.generatedAt);
  const parts = [
    `<p class="meta" data-generated="${h(snapshot.generatedAt)}">${snapshot.windows.length} window${
      snapshot.windows.length === 1 ? '' : 's'
    } · updated ${h(snapshot.generatedAt)}</p>`,
  ];
  if (snapshot.membersError !== null) {
    parts.push(`<p class="note">Member reports unavailable: ${h(snapshot.membersError)}</p>`);
  }
  if (snapshot.windows.length === 0) {
    parts.push(
      '<p class="empty">No MaintenanceWindows. Open one with <code>kubectl kmaint open &lt;target&gt; --for 1h</code> or <code>kubectl apply -f</code> a window.</p>',
    );
  }
  for (const w of snapshot.windows) parts.push(renderWindow(w, now));
  return parts.join('\n');
}

function renderWindow(w: WindowView, now: number): string {
  const id = `${w.namespace}/${w.name}`;
  const rows: [string, string][] = [
    ['target', `<code>${h(w.key)}</code> · mode ${h(w.mode)}`],
    ['schedule', h(w.schedule)],
  ];
  if (w.reason !== null) rows.push(['reason', h(w.reason)]);
  if (w.windowStart !== null)
    rows.push(['window', `${h(w.windowStart)} → ${h(w.windowEnd ?? 'until closed')}`]);
  if (w.nextStart !== null) rows.push(['next', h(w.nextStart)]);
  if (w.pods !== null) {
    const still = w.pods.draining.length > 0 ? ` · still draining: ${h(w.pods.draining.join(', '))}` : '';
    rows.push(['pods', `${w.pods.drained}/${w.pods.selected} drained, ${w.pods.notReady} not ready${still}`]);
  }
  return `<section class="window" data-window="${h(id)}" data-state="${h(w.state)}">
<h2>${h(id)} <span class="badge ${h(w.state)}">${h(w.state)}</span></h2>
<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
${renderTimeline(w, now)}
${renderMembers(w.members)}
${renderConditions(w)}
</section>`;
}

/** A bar from the window's start to its end (or now, while open-ended) and the next start, with "now". */
function renderTimeline(w: WindowView, now: number): string {
  const start = w.windowStart === null ? null : Date.parse(w.windowStart);
  const end = w.windowEnd === null ? null : Date.parse(w.windowEnd);
  const next = w.nextStart === null ? null : Date.parse(w.nextStart);
  const points = [now, start, end, next].filter((p): p is number => p !== null && Number.isFinite(p));
  const lo = Math.min(...points);
  const hi = Math.max(...points);
  const pad = Math.max((hi - lo) * 0.1, 5 * 60_000);
  const from = lo - pad;
  const to = hi + pad;
  const at = (ms: number) => (((ms - from) / (to - from)) * 100).toFixed(2);
  const spans: string[] = [];
  if (start !== null) {
    const until = end ?? to;
    spans.push(
      `<div class="span" style="left:${at(start)}%;width:${(+at(until) - +at(start)).toFixed(2)}%" title="window"></div>`,
    );
  }
  if (next !== null)
    spans.push(`<div class="span next" style="left:${at(next)}%;width:1.5%" title="next start"></div>`);
  return `<div class="timeline" aria-label="timeline">${spans.join('')}<div class="now" style="left:${at(now)}%" title="now"></div></div>
<div class="axis"><span>${h(new Date(from).toISOString().slice(0, 16))}Z</span><span>now</span><span>${h(new Date(to).toISOString().slice(0, 16))}Z</span></div>`;
}

function renderMembers(members: readonly MemberView[]): string {
  if (members.length === 0) return '<p class="meta">No member reports under this key.</p>';
  const rows = members
    .map(
      (m) =>
        `<tr data-member="${h(m.id)}" data-state="${h(m.state)}"><td>${h(m.pod ?? m.id)}</td>` +
        `<td><span class="badge ${h(m.state)}">${h(m.state)}</span></td><td>${m.inFlight}</td>` +
        `<td>${m.drainMs === null ? '—' : `${(m.drainMs / 1000).toFixed(1)} s`}</td><td>${h(m.since)}</td>` +
        `<td>${h(m.lastError ?? '')}</td></tr>`,
    )
    .join('');
  return `<table class="members"><thead><tr><th>member</th><th>state</th><th>in flight</th><th>drained after</th><th>since</th><th>last error</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderConditions(w: WindowView): string {
  if (w.conditions.length === 0)
    return '<p class="meta">No status yet: the operator has not reconciled this window.</p>';
  const rows = w.conditions
    .map(
      (c) =>
        `<tr><td>${h(c.type)}</td><td>${h(c.status)}</td><td>${h(c.reason)}</td><td>${h(c.message)}</td><td>${h(c.since)}</td></tr>`,
    )
    .join('');
  return `<details><summary>conditions</summary><table><thead><tr><th>type</th><th>status</th><th>reason</th><th>message</th><th>since</th></tr></thead><tbody>${rows}</tbody></table></details>`;
}
