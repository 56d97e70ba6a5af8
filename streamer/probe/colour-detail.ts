/**
 * Reads the probe app's red and blue pixel columns (CHROMA_STRIP) back from a page's video:
 * whether the stream kept full colour (4:4:4). Tests and the latency benchmark use it, for
 * Floe's page and for Selkies'.
 */
import type { Page } from 'playwright-core';
import { CHROMA_STRIP } from './probe-app.ts';

/**
 * How far the columns kept their colours apart, from an RGBA picture of the strip: the mean
 * of red − blue in the red columns and blue − red in the blue ones, over the strip's inner
 * pixels (its edges meet the background). 255 when every pixel keeps its colour (4:4:4); near
 * 0 when each pair shares one colour sample (4:2:0 makes both purple).
 */
export function chromaContrast(rgba: ArrayLike<number>): number {
  const { width, height } = CHROMA_STRIP;
  let sum = 0;
  let pixels = 0;
  for (let y = 4; y < height - 4; y++) {
    for (let x = 2; x < width - 2; x++) {
      const i = (y * width + x) * 4;
      const redness = rgba[i]! - rgba[i + 2]!;
      sum += x % 2 === 0 ? redness : -redness;
      pixels++;
    }
  }
  return sum / pixels;
}

/** chromaContrast of the frame the page's `<video>` shows now, at the video's own resolution. */
export async function readChromaContrast(page: Page): Promise<number> {
  const rgba = await page.evaluate(({ x, y, width, height }) => {
    const video = document.querySelector('video')!;
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    ctx.drawImage(video, x, y, width, height, 0, 0, width, height);
    return [...ctx.getImageData(0, 0, width, height).data];
  }, CHROMA_STRIP);
  return chromaContrast(rgba);
}
