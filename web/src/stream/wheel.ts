/**
 * Wheel deltas → X wheel notches. Browsers report pixels (touchpads: many small deltas),
 * lines or pages; X only knows clicks of the wheel, so we accumulate and emit whole notches,
 * carrying the remainder so slow touchpad scrolling still scrolls.
 */

export const PIXELS_PER_NOTCH = 100;
export const LINES_PER_NOTCH = 3;
/** WheelEvent.deltaMode values. */
export const DOM_DELTA_PIXEL = 0;
export const DOM_DELTA_LINE = 1;
export const DOM_DELTA_PAGE = 2;

export interface WheelState {
  /** Accumulated, not yet sent, in notches (fractional). */
  x: number;
  y: number;
}

export interface WheelDelta {
  deltaX: number;
  deltaY: number;
  deltaMode: number;
}

export const emptyWheel: WheelState = { x: 0, y: 0 };

function toNotches(delta: number, mode: number): number {
  if (mode === DOM_DELTA_LINE) return delta / LINES_PER_NOTCH;
  if (mode === DOM_DELTA_PAGE) return delta; // a page is rare (some mice, a setting): one notch
  return delta / PIXELS_PER_NOTCH;
}

/** Whole notches towards zero; the epsilon absorbs float error (3 × 1/3 must make 1). */
function whole(n: number): number {
  return Math.trunc(n + Math.sign(n) * 1e-9);
}

export function accumulateWheel(
  state: WheelState,
  event: WheelDelta,
): { state: WheelState; dx: number; dy: number } {
  const x = state.x + toNotches(event.deltaX, event.deltaMode);
  const y = state.y + toNotches(event.deltaY, event.deltaMode);
  const dx = whole(x);
  const dy = whole(y);
  return { state: { x: x - dx, y: y - dy }, dx, dy };
}
