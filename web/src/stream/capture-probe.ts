import {
  type CaptureAnchor,
  captureTimeIn,
  captureUnixMs,
  type FrameLatency,
  frameLatency,
  rememberAnchor,
} from './capture-latency.ts';

/**
 * Measures each shown frame's glass-to-glass from the capture time the streamer sent with it
 * (capture-latency.ts). Reads no pixels, so it is cheap, but like the barcode probe it runs
 * only while someone is looking (`active`).
 */

type Source = RTCRtpSynchronizationSource & {
  captureTimestamp?: number;
  senderCaptureTimeOffset?: number;
};

export interface CaptureProbeOptions {
  video: HTMLVideoElement;
  /** The video receiver of the current connection, if any. */
  receiver(): RTCRtpReceiver | null;
  active(): boolean;
  /** The streamer's clock minus ours, ms (0 when unknown: one machine). */
  clockOffset(): number;
  sample(frame: FrameLatency & { rtpTimestamp: number }): void;
}

export function attachCaptureProbe(options: CaptureProbeOptions): { detach(): void } {
  const { video } = options;
  if (!('requestVideoFrameCallback' in video)) return { detach() {} };
  let anchors: CaptureAnchor[] = [];
  let anchorReceiver: RTCRtpReceiver | null = null;
  let handle = 0;

  const onFrame = (_now: number, m: VideoFrameCallbackMetadata) => {
    handle = video.requestVideoFrameCallback(onFrame);
    const receiver = options.receiver();
    if (!options.active() || !receiver || m.rtpTimestamp === undefined) return;
    if (receiver !== anchorReceiver) anchors = []; // a new connection: a new RTP clock
    anchorReceiver = receiver;
    const source = receiver.getSynchronizationSources()[0] as Source | undefined;
    const captured = captureUnixMs(source?.captureTimestamp, source?.senderCaptureTimeOffset);
    if (source && captured !== null)
      anchors = rememberAnchor(anchors, {
        rtpTimestamp: source.rtpTimestamp,
        capturedAtMs: captured,
      });
    const capture = captureTimeIn(m.rtpTimestamp, anchors);
    if (capture === null) return;
    const at = (t: number | undefined) => (t === undefined ? null : performance.timeOrigin + t);
    const frame = frameLatency(
      {
        capturedAtMs: capture.capturedAtMs,
        receivedAtMs: at(m.receiveTime),
        presentedAtMs: at(m.presentationTime),
        displayAtMs: performance.timeOrigin + m.expectedDisplayTime,
      },
      options.clockOffset(),
      capture.exact,
    );
    if (frame) options.sample({ ...frame, rtpTimestamp: m.rtpTimestamp });
  };
  handle = video.requestVideoFrameCallback(onFrame);
  return {
    detach() {
      video.cancelVideoFrameCallback(handle);
    },
  };
}
