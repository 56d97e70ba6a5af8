import { MAX_PLAUSIBLE_MS, percentile } from './latency.ts';

/**
 * Glass-to-glass measured for any app (issue 18): the streamer stamps each frame's packets with
 * its capture time (the abs-capture-time RTP header extension, streamer/src/capture-time.ts);
 * Chromium exposes it as `captureTimestamp` of the video receiver's synchronization source
 * (ms on the NTP epoch, the streamer's clock). requestVideoFrameCallback then says when that
 * frame arrived, was handed to the compositor and will be displayed (performance clock).
 *
 * What Chromium 156 gives, checked in the page: the callback's `captureTime` is absent (Chrome
 * fills it only from RTCP-based NTP estimates a receive-only peer does not get), while
 * getSynchronizationSources() carries `captureTimestamp` and `rtpTimestamp` of the newest
 * frame received, unconverted (the sender's clock; `senderCaptureTimeOffset` only when the
 * sender sends the offset, which Floe does not). So the page pairs the shown frame with the
 * stamp by RTP timestamp, and moves the streamer's clock onto its own with clock.ts' offset.
 */

/** ms from the NTP epoch (1900) to the Unix epoch (1970) */
export const NTP_UNIX_OFFSET_MS = 2_208_988_800_000;
/** RTP video clock, ticks per ms */
const RTP_TICKS_PER_MS = 90;
/** An anchor older than this (in capture time) is not used to place a frame. */
const MAX_INTERPOLATION_MS = 1000;

/** One reading of the receiver's synchronization source: a frame and its capture time. */
export interface CaptureAnchor {
  rtpTimestamp: number;
  /** Unix ms, streamer's clock */
  capturedAtMs: number;
}

/**
 * A synchronization source's capture time as Unix ms on the streamer's clock, or null
 * without one. `senderCaptureTimeOffset` is the sender's clock minus the capturer's: added,
 * it puts the capture on the sender's clock (zero when sender and capturer are one host).
 */
export function captureUnixMs(
  captureTimestamp: number | undefined,
  senderCaptureTimeOffset?: number | null,
): number | null {
  if (captureTimestamp === undefined || !Number.isFinite(captureTimestamp)) return null;
  if (captureTimestamp <= 0) return null;
  return captureTimestamp - NTP_UNIX_OFFSET_MS + (senderCaptureTimeOffset ?? 0);
}

/**
 * Anchors seen lately, newest last: the frame shown is usually the newest received, but when
 * the next has already arrived its own stamp was read in an earlier callback.
 */
export function rememberAnchor(
  anchors: readonly CaptureAnchor[],
  anchor: CaptureAnchor,
  keep = 16,
): CaptureAnchor[] {
  const last = anchors.at(-1);
  if (last && last.rtpTimestamp === anchor.rtpTimestamp) return [...anchors];
  return [...anchors, anchor].slice(-keep);
}

/**
 * The capture time of the frame with `rtpTimestamp`: its own stamp's when one was read
 * (`exact`), else placed from the newest by the RTP clock. Placing is off by however late
 * the capture read the screen after its tick (the RTP timestamp is the tick's, the stamp is
 * taken after the read), which a loaded machine can make tens of ms.
 */
export function captureTimeIn(
  rtpTimestamp: number,
  anchors: readonly CaptureAnchor[],
): { capturedAtMs: number; exact: boolean } | null {
  const own = anchors.find((a) => a.rtpTimestamp === rtpTimestamp);
  if (own) return { capturedAtMs: own.capturedAtMs, exact: true };
  const placed = captureTimeOf(rtpTimestamp, anchors.at(-1) ?? null);
  return placed === null ? null : { capturedAtMs: placed, exact: false };
}

/**
 * The capture time of the frame with `rtpTimestamp`: the anchor's own when it is that frame;
 * else moved by the RTP clock from the anchor (the pipeline's RTP timestamps come from the
 * same capture instants, so their difference is the capture times' difference: libwebrtc's
 * receiver interpolates missing abs-capture-time the same way). 32-bit wrap is handled.
 */
export function captureTimeOf(rtpTimestamp: number, anchor: CaptureAnchor | null): number | null {
  if (!anchor) return null;
  // signed difference modulo 2^32
  const ticks = ((rtpTimestamp - anchor.rtpTimestamp) | 0) as number;
  const ms = ticks / RTP_TICKS_PER_MS;
  if (Math.abs(ms) > MAX_INTERPOLATION_MS) return null;
  return anchor.capturedAtMs + ms;
}

/** When a shown frame passed each step, Unix ms: capture on the streamer's clock, the rest ours. */
export interface FrameTimes {
  capturedAtMs: number;
  /** its last packet arrived (requestVideoFrameCallback's receiveTime) */
  receivedAtMs: number | null;
  /** decoded and handed to the compositor (presentationTime) */
  presentedAtMs: number | null;
  /** expected on screen (expectedDisplayTime) */
  displayAtMs: number;
}

/** One frame's glass-to-glass from its capture time, and its parts, ms. */
export interface FrameLatency {
  totalMs: number;
  /** the frame's own capture stamp was read (else placed from a neighbour's, captureTimeIn) */
  exact: boolean;
  /** capture, colour conversion, encode, sending, network (streamer's capture → received) */
  toReceiveMs: number | null;
  /** jitter buffer and decode (received → handed to the compositor) */
  toPresentMs: number | null;
  /** waiting for the display's next refresh */
  toDisplayMs: number | null;
}

/**
 * The frame's latency, or null when implausible (a clock offset not yet known across
 * machines, a stamp from another stream). `clockOffsetMs` is the streamer's clock minus ours.
 */
export function frameLatency(
  t: FrameTimes,
  clockOffsetMs: number,
  exact = true,
): FrameLatency | null {
  const captured = t.capturedAtMs - clockOffsetMs;
  const totalMs = t.displayAtMs - captured;
  if (!(totalMs >= 0 && totalMs <= MAX_PLAUSIBLE_MS)) return null;
  const span = (from: number | null, to: number | null) =>
    from === null || to === null ? null : to - from;
  return {
    totalMs,
    exact,
    toReceiveMs: span(captured, t.receivedAtMs),
    toPresentMs: span(t.receivedAtMs, t.presentedAtMs),
    toDisplayMs: span(t.presentedAtMs, t.displayAtMs),
  };
}

export interface CaptureLatencySummary {
  p50: number;
  p90: number;
  p99: number;
  count: number;
  /** medians of the parts, ms; null when the browser does not give that step's time */
  parts: { toReceiveMs: number | null; toPresentMs: number | null; toDisplayMs: number | null };
}

export function summarizeFrames(frames: readonly FrameLatency[]): CaptureLatencySummary | null {
  if (frames.length === 0) return null;
  const median = (pick: (f: FrameLatency) => number | null) => {
    const values = frames.map(pick).filter((v): v is number => v !== null);
    return values.length === 0
      ? null
      : percentile(
          [...values].sort((a, b) => a - b),
          50,
        );
  };
  const totals = frames.map((f) => f.totalMs).sort((a, b) => a - b);
  return {
    p50: percentile(totals, 50),
    p90: percentile(totals, 90),
    p99: percentile(totals, 99),
    count: totals.length,
    parts: {
      toReceiveMs: median((f) => f.toReceiveMs),
      toPresentMs: median((f) => f.toPresentMs),
      toDisplayMs: median((f) => f.toDisplayMs),
    },
  };
}
