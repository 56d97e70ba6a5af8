import { BARCODE_STRIP, latencySample, readBarcode } from './latency.ts';

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
  const canvas = document.createElement('canvas');
  canvas.width = BARCODE_STRIP.width;
  canvas.height = BARCODE_STRIP.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  let handle = 0;

  const onFrame = (_now: number, metadata: VideoFrameCallbackMetadata) => {
    handle = video.requestVideoFrameCallback(onFrame);
    if (!ctx || !active()) return;
    const { width, height } = BARCODE_STRIP;
    if (metadata.width < width || metadata.height < height) return;
    // The strip at the video's own resolution, whatever size it is displayed at.
    ctx.drawImage(video, 0, 0, width, height, 0, 0, width, height);
    const painted = readBarcode(ctx.getImageData(0, 0, width, height).data, width);
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
