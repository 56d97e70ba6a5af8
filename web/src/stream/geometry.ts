/**
 * Where the picture sits inside the <video> element. With `object-fit: contain` the frame is
 * scaled to fit and centred, leaving bars on two sides; pointer positions must be measured
 * against the picture, not the element, or clicks land off target.
 */

export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The rectangle the video's frames are drawn in, in the element's coordinate space. */
export function contentRect(element: Rect, videoWidth: number, videoHeight: number): Rect | null {
  if (videoWidth <= 0 || videoHeight <= 0 || element.width <= 0 || element.height <= 0) {
    return null;
  }
  const scale = Math.min(element.width / videoWidth, element.height / videoHeight);
  const width = videoWidth * scale;
  const height = videoHeight * scale;
  return {
    left: element.left + (element.width - width) / 2,
    top: element.top + (element.height - height) / 2,
    width,
    height,
  };
}

/**
 * A client-space point as fractions (0..1) of the picture, or null when it lies on the bars
 * or the video has no frame yet. With `clamp`, a point outside is pulled to the nearest edge
 * instead (a drag that leaves the picture keeps dragging along its edge).
 */
export function pointerFraction(
  element: Rect,
  videoWidth: number,
  videoHeight: number,
  clientX: number,
  clientY: number,
  clamp = false,
): { x: number; y: number } | null {
  const content = contentRect(element, videoWidth, videoHeight);
  if (!content) return null;
  const x = (clientX - content.left) / content.width;
  const y = (clientY - content.top) / content.height;
  if (clamp) return { x: Math.min(1, Math.max(0, x)), y: Math.min(1, Math.max(0, y)) };
  if (x < 0 || x > 1 || y < 0 || y > 1) return null;
  return { x, y };
}
