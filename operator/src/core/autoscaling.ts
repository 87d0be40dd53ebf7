/**
 * Pausing KEDA ScaledObjects for a window and putting them back: pure, on the object's annotations.
 * KEDA stops scaling a ScaledObject annotated autoscaling.keda.sh/paused="true" and keeps its replicas.
 */
export const KEDA_PAUSED = 'autoscaling.keda.sh/paused';
/** Which window paused it ("<namespace>/<name>"): only that window puts it back. */
export const PAUSED_BY = 'kmaint.io/paused-by';
/** The paused annotation's value before the window, or ABSENT when it had none. */
export const PAUSED_PREVIOUS = 'kmaint.io/paused-previous';
const ABSENT = '';

/** A merge patch of metadata.annotations (null removes one), or null when nothing needs to change. */
export type AnnotationPatch = Record<string, string | null> | null;

export function pausePatch(
  annotations: Readonly<Record<string, string>>,
  windowRef: string,
): AnnotationPatch {
  const owner = annotations[PAUSED_BY];
  // Paused by another window already: that one remembers the earlier state and will put it back.
  if (owner !== undefined && owner !== windowRef) return null;
  if (owner === windowRef && annotations[KEDA_PAUSED] === 'true') return null;
  return {
    [KEDA_PAUSED]: 'true',
    [PAUSED_BY]: windowRef,
    [PAUSED_PREVIOUS]:
      owner === windowRef ? (annotations[PAUSED_PREVIOUS] ?? ABSENT) : (annotations[KEDA_PAUSED] ?? ABSENT),
  };
}

export function restorePatch(
  annotations: Readonly<Record<string, string>>,
  windowRef: string,
): AnnotationPatch {
  if (annotations[PAUSED_BY] !== windowRef) return null;
  const previous = annotations[PAUSED_PREVIOUS] ?? ABSENT;
  return { [KEDA_PAUSED]: previous === ABSENT ? null : previous, [PAUSED_BY]: null, [PAUSED_PREVIOUS]: null };
}
