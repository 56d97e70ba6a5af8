import { RESIZE_BOUNDS, SCALE_BOUNDS } from './contract.ts';

/**
 * The display size to ask for so that the remote desktop matches the video area pixel for
 * pixel: CSS size × devicePixelRatio, rounded down to even numbers (H.264 encoders need even
 * dimensions with 4:2:0 chroma) and kept within what the streamer accepts. Null when the area
 * has no size yet (hidden, not laid out).
 */
export function displaySizeFor(
  cssWidth: number,
  cssHeight: number,
  devicePixelRatio: number,
): { width: number; height: number } | null {
  if (!(cssWidth > 0 && cssHeight > 0)) return null;
  const dpr = devicePixelRatio > 0 && Number.isFinite(devicePixelRatio) ? devicePixelRatio : 1;
  const even = (n: number, min: number, max: number) =>
    Math.min(max, Math.max(min, 2 * Math.floor(Math.round(n) / 2)));
  return {
    width: even(cssWidth * dpr, RESIZE_BOUNDS.minWidth, RESIZE_BOUNDS.maxWidth),
    height: even(cssHeight * dpr, RESIZE_BOUNDS.minHeight, RESIZE_BOUNDS.maxHeight),
  };
}

export const RESIZE_DEBOUNCE_MS = 250;

/**
 * The scale a resize carries so the session's DPI follows the browser's: devicePixelRatio
 * (screen scaling × page zoom), kept within what the streamer accepts, to two decimals.
 */
export function displayScaleFor(devicePixelRatio: number): number {
  const dpr = devicePixelRatio > 0 && Number.isFinite(devicePixelRatio) ? devicePixelRatio : 1;
  const bounded = Math.min(SCALE_BOUNDS.max, Math.max(SCALE_BOUNDS.min, dpr));
  return Math.round(bounded * 100) / 100;
}
