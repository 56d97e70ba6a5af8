/**
 * The page's own zoom of the picture (pinch on a phone): a scale and an offset applied to the
 * <video> as a CSS transform, so the remote display keeps its size and only this viewer's
 * view changes. Pointer positions stay right because they are measured against the video's
 * on-screen rectangle, which includes the transform.
 *
 * The view never shows past the picture's edges: at scale 1 it sits still, zoomed in it pans
 * only as far as the stage is covered.
 */

export interface View {
  scale: number;
  /** Offset of the scaled video's top-left corner from the stage's, in CSS pixels. */
  x: number;
  y: number;
}

export const MAX_ZOOM = 5;
export const unzoomed: View = { scale: 1, x: 0, y: 0 };

/** The stage's size and its top-left corner in client coordinates. */
export interface StageBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

function clampView(view: View, stage: StageBox): View {
  const scale = Math.min(MAX_ZOOM, Math.max(1, Number.isFinite(view.scale) ? view.scale : 1));
  const clamp = (v: number, size: number) => Math.min(0, Math.max(size * (1 - scale), v));
  return { scale, x: clamp(view.x, stage.width), y: clamp(view.y, stage.height) };
}

/** Scales by `factor` keeping the picture under the client point (cx, cy) in place. */
export function zoomView(
  view: View,
  factor: number,
  cx: number,
  cy: number,
  stage: StageBox,
): View {
  if (!(factor > 0) || !Number.isFinite(factor)) return view;
  const scale = Math.min(MAX_ZOOM, Math.max(1, view.scale * factor));
  const px = cx - stage.left;
  const py = cy - stage.top;
  // the point of the unscaled video under the fingers stays under them
  const ux = (px - view.x) / view.scale;
  const uy = (py - view.y) / view.scale;
  return clampView({ scale, x: px - ux * scale, y: py - uy * scale }, stage);
}

export function panView(view: View, dx: number, dy: number, stage: StageBox): View {
  return clampView({ scale: view.scale, x: view.x + dx, y: view.y + dy }, stage);
}

/** The CSS transform for a view (transform-origin 0 0). */
export function viewTransform(view: View): string {
  if (view.scale === 1 && view.x === 0 && view.y === 0) return '';
  return `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
}
