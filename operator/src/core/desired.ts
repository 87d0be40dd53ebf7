import { encodeSwitchValue, parseSwitchValue, SWITCH_OFF, type SwitchValue } from '@kmaint/common';
import type { MaintenanceMode } from '@kmaint/common';

/** What the key decision needs to know about one window. */
export interface WindowActivity {
  ref: string;
  key: string;
  /** Inside its schedule, not suspended, not being deleted. */
  active: boolean;
  mode: MaintenanceMode;
  reason: string | null;
  drainTimeoutMs: number;
  windowStartMs: number | null;
  /** When this window closes at the latest (its end or its maxDuration cap); null: open until deleted. */
  untilMs: number | null;
  /**
   * The operator's finalizer is on it, so its deletion waits for the operator even across a restart.
   * One that is not (just created) may turn its key on only provisionally: see decideKeys.
   */
  finalized: boolean;
}

/** What to write into a key: the value, and whether it hangs on the operator's provisional lease. */
export interface KeyDecision {
  value: SwitchValue;
  provisional: boolean;
}

const MODE_STRENGTH: Record<MaintenanceMode, number> = { drain: 1, pause: 0 };

/**
 * The value each managed key should hold: on while any window for it is active, else off. When several
 * are active one speaks for the key, chosen so the answer does not depend on the order windows arrive
 * in: drain beats pause (the stronger promise), then the earliest opened, then the name.
 */
export function desiredSwitches(windows: readonly WindowActivity[]): Map<string, SwitchValue> {
  const speaker = new Map<string, WindowActivity | null>();
  for (const w of windows) {
    const current = speaker.get(w.key) ?? null;
    if (!w.active) {
      if (!speaker.has(w.key)) speaker.set(w.key, null);
      continue;
    }
    if (current === null || outranks(w, current)) speaker.set(w.key, w);
  }
  // The key stays on until the last active window for it ends: the latest hard end, none if any has none.
  const until = new Map<string, number | null>();
  for (const w of windows) {
    if (!w.active) continue;
    const prev = until.get(w.key);
    until.set(w.key, prev === null || w.untilMs === null ? null : Math.max(prev ?? w.untilMs, w.untilMs));
  }
  const out = new Map<string, SwitchValue>();
  for (const [key, w] of speaker) out.set(key, w === null ? SWITCH_OFF : switchOn(w, until.get(key) ?? null));
  return out;
}

/**
 * What each key should hold, and how. A key held on by finalized windows is written for good, from those
 * windows alone. A key that only windows without the finalizer yet want on (a new window's first
 * moments, while its finalizer patch waits in the apiserver) goes on at once but provisionally, on the
 * operator's etcd lease: should such a window be deleted while no operator runs, nothing would come back
 * to turn its key off, and the lease's expiry deletes it instead (a missing key is off). Once the
 * finalizer is on, the key is written again, for good.
 */
export function decideKeys(windows: readonly WindowActivity[]): Map<string, KeyDecision> {
  const all = desiredSwitches(windows);
  const vouched = desiredSwitches(windows.filter((w) => w.finalized));
  const out = new Map<string, KeyDecision>();
  for (const [key, value] of all) {
    const held = vouched.get(key);
    if (held?.enabled === true) out.set(key, { value: held, provisional: false });
    else out.set(key, { value, provisional: value.enabled });
  }
  return out;
}

function outranks(a: WindowActivity, b: WindowActivity): boolean {
  if (MODE_STRENGTH[a.mode] !== MODE_STRENGTH[b.mode]) return MODE_STRENGTH[a.mode] > MODE_STRENGTH[b.mode];
  const sa = a.windowStartMs ?? Number.MAX_SAFE_INTEGER;
  const sb = b.windowStartMs ?? Number.MAX_SAFE_INTEGER;
  if (sa !== sb) return sa < sb;
  return a.ref < b.ref;
}

function switchOn(w: WindowActivity, untilMs: number | null): SwitchValue {
  const value: SwitchValue = {
    enabled: true,
    mode: w.mode,
    window: w.ref,
    drainTimeoutSeconds: Math.max(1, Math.ceil(w.drainTimeoutMs / 1000)),
  };
  if (w.reason !== null) value.reason = w.reason;
  if (untilMs !== null) value.until = new Date(untilMs).toISOString();
  return value;
}

/**
 * Whether the key must be written: never for an "off" that is already off (a missing key, a plain
 * `false` or our own JSON all mean off to the consumers), always when the exact value differs otherwise.
 * Skipping equal writes is what keeps a restarted operator from flapping the key.
 */
export function needsWrite(currentRaw: string | null, desired: SwitchValue): boolean {
  if (!desired.enabled) {
    const current = parseSwitchValue(currentRaw);
    return !current.ok || current.value.enabled;
  }
  return currentRaw !== encodeSwitchValue(desired);
}
