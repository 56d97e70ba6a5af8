import {
  BARCODE_ROW,
  BARCODE_STRIP,
  latencySample,
  readBarcode,
  readBarcodeRow,
} from './latency.ts';

/**
 * Measures glass-to-glass latency from the probe barcode of each displayed frame. Reading
 * pixels back costs CPU on every frame, so it runs only while someone is looking (`active`).
 */

export interface ProbeOptions {
  video: HTMLVideoElement;
  active(): boolean;
  /** The streamer's clock minus ours, ms (0 when unknown: one machine). */
  clockOffset(): number;
  /** `rtpTimestamp`: the frame's, to pair it with its capture-time sample (tests). */
  sample(ms: number, rtpTimestamp: number | undefined): void;
}

export function attachProbe({ video, active, clockOffset, sample }: ProbeOptions): {
  detach(): void;
} {
  if (!('requestVideoFrameCallback' in video)) return { detach() {} };
  const read = barcodeReader(video);
  let handle = 0;

  const onFrame = async (_now: number, metadata: VideoFrameCallbackMetadata) => {
    handle = video.requestVideoFrameCallback(onFrame);
    if (!active()) return;
    if (metadata.width < BARCODE_STRIP.width || metadata.height < BARCODE_STRIP.height) return;
    const painted = await read();
    if (painted === null) return;
    // expectedDisplayTime is on the performance clock; the barcode is wall-clock ms.
    const shownAt = performance.timeOrigin + metadata.expectedDisplayTime;
    const ms = latencySample(shownAt, painted, clockOffset());
    if (ms !== null) sample(ms, metadata.rtpTimestamp);
  };
  handle = video.requestVideoFrameCallback(onFrame);

  return {
    detach() {
      video.cancelVideoFrameCallback(handle);
    },
  };
}

// The barcode's row as a 2-line rect of the luma plane: 4:2:0 rects start and end on even lines.
const ROW_RECT = { x: 0, y: BARCODE_ROW & ~1, width: BARCODE_STRIP.width, height: 2 };
const LUMA_FORMATS = new Set(['I420', 'I420A', 'I422', 'I444', 'NV12']);

/**
 * Reads the barcode of the video's current frame. From the decoded frame's luma plane when
 * WebCodecs can wrap it (a copy of one row, no colour conversion); else through a canvas,
 * where drawImage converts the whole frame to RGB first: 8 MB a frame at 1080p, a cost that
 * lands in the measured browser's CPU and so in the latency it measures.
 */
function barcodeReader(video: HTMLVideoElement): () => Promise<number | null> {
  const { width, height } = BARCODE_STRIP;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  const fromCanvas = () => {
    if (!ctx) return null;
    // The strip at the video's own resolution, whatever size it is displayed at.
    ctx.drawImage(video, 0, 0, width, height, 0, 0, width, height);
    return readBarcode(ctx.getImageData(0, 0, width, height).data, width);
  };
  if (typeof VideoFrame === 'undefined') return async () => fromCanvas();
  let row = new Uint8Array(0);
  return async () => {
    let frame: VideoFrame;
    try {
      frame = new VideoFrame(video);
    } catch {
      return fromCanvas(); // no frame to wrap yet
    }
    try {
      if (!frame.format || !LUMA_FORMATS.has(frame.format)) return fromCanvas();
      const rect = { ...ROW_RECT, x: frame.visibleRect!.x, y: frame.visibleRect!.y + ROW_RECT.y };
      const size = frame.allocationSize({ rect });
      if (row.length < size) row = new Uint8Array(size);
      const [luma] = await frame.copyTo(row, { rect });
      const start = luma!.offset + (BARCODE_ROW - ROW_RECT.y) * luma!.stride;
      return readBarcodeRow(row.subarray(start, start + width));
    } finally {
      frame.close();
    }
  };
}
