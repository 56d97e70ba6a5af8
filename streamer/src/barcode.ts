/**
 * The latency probe's time barcode: the wall-clock time in ms, painted as a row of black
 * and white cells at the top-left of a frame, read back in the browser from the decoded video.
 * Both ends run on one machine, so one clock: shown-time minus painted-time is glass-to-glass.
 *
 * Cells are large (20×16 px) so that encoder blur cannot flip a bit; the first and last cells
 * are fixed markers, which tells a probe frame from an ordinary app frame.
 */
export const BARCODE = {
  bits: 44,
  cellWidth: 20,
  height: 16,
} as const;

/** Total cells: a white start marker, the bits, a black end marker. */
export const BARCODE_CELLS = BARCODE.bits + 2;
export const BARCODE_WIDTH = BARCODE_CELLS * BARCODE.cellWidth;

/** Which cells are white (true) for a time in ms. 44 bits hold times until the year 2527. */
export function encodeBarcode(timeMs: number): boolean[] {
  const cells: boolean[] = [true];
  const t = Math.floor(timeMs);
  for (let i = BARCODE.bits - 1; i >= 0; i--) cells.push(Math.floor(t / 2 ** i) % 2 === 1);
  cells.push(false);
  return cells;
}

/**
 * Reads a time back. `luma(x, y)` gives 0..255 brightness of the frame's pixel; sampled in
 * the middle of each cell. Returns null when the markers are not there.
 */
export function decodeBarcode(luma: (x: number, y: number) => number): number | null {
  const y = Math.floor(BARCODE.height / 2);
  const white = (cell: number) => luma(cell * BARCODE.cellWidth + BARCODE.cellWidth / 2, y) > 128;
  if (!white(0) || white(BARCODE_CELLS - 1)) return null;
  let t = 0;
  for (let i = 1; i <= BARCODE.bits; i++) t = t * 2 + (white(i) ? 1 : 0);
  return t;
}
