import { BARCODE, BARCODE_WIDTH, decodeBarcode } from '@floe/streamer/barcode';

/**
 * Glass-to-glass latency: the probe app paints the wall-clock time as a barcode; we read it
 * back from each displayed frame. Streamer and browser share one clock only when they run on
 * one machine (benchmarks, tests), which is when the probe app runs.
 */

/** Samples outside this range are a misread (an app frame that happens to look like markers). */
export const MAX_PLAUSIBLE_MS = 10_000;

/** Where the barcode lies in a frame, in the video's own pixels. */
export const BARCODE_STRIP = { width: BARCODE_WIDTH, height: BARCODE.height } as const;

/** Decodes the painted time from RGBA pixels of the top-left strip of a frame. */
export function readBarcode(rgba: ArrayLike<number>, width: number): number | null {
  return decodeBarcode((x, y) => {
    const i = (Math.floor(y) * width + Math.floor(x)) * 4;
    return 0.299 * (rgba[i] ?? 0) + 0.587 * (rgba[i + 1] ?? 0) + 0.114 * (rgba[i + 2] ?? 0);
  });
}

/**
 * shown − painted, or null when implausible. `clockOffsetMs` is the streamer's clock minus
 * ours (see clock.ts): the painted time is on the streamer's clock.
 */
export function latencySample(
  shownAtMs: number,
  paintedAtMs: number,
  clockOffsetMs = 0,
): number | null {
  const ms = shownAtMs - (paintedAtMs - clockOffsetMs);
  return ms >= 0 && ms <= MAX_PLAUSIBLE_MS ? ms : null;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  count: number;
}

export function summarizeLatency(samples: readonly number[]): LatencySummary | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    count: sorted.length,
  };
}

/**
 * An estimate from the parts we can observe when no probe is painted: encode (reported by the
 * streamer) + network one way (half the RTT) + jitter buffer + decode. It misses capture and
 * display time, so it reads low: hence labelled "estimated".
 */
export function estimateLatency(parts: {
  encodeMs: number | null;
  rttMs: number | null;
  jitterBufferMs: number | null;
  decodeMs: number | null;
}): number | null {
  if (parts.encodeMs === null || parts.rttMs === null) return null;
  return parts.encodeMs + parts.rttMs / 2 + (parts.jitterBufferMs ?? 0) + (parts.decodeMs ?? 0);
}
