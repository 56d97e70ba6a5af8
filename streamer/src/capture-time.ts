/**
 * Capture times of frames, from the pipeline to the RTP packets the browser gets (issue 18):
 * each frame's packets carry the abs-capture-time header extension
 * (http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time), which Chrome reads into
 * requestVideoFrameCallback's `captureTime` and getSynchronizationSources()' `captureTimestamp`,
 * so the page measures glass-to-glass for any app, not only the probe.
 *
 * The pipeline (floe_pipeline.py, CaptureStamps) sends a 16-byte stamp before a frame's first
 * packet on the RTP port: "floe", the frame's RTP timestamp, its capture time in µs since the
 * Unix epoch on this host's wall clock.
 */

export const ABS_CAPTURE_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time';

const MAGIC = 0x666c6f65; // "floe"
const STAMP_BYTES = 16;
/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

export interface CaptureStamp {
  /** the frame's RTP timestamp as the pipeline wrote it (90 kHz) */
  rtpTimestamp: number;
  /** capture time, ms since the Unix epoch on the streamer host's wall clock */
  capturedAtMs: number;
}

/** A capture stamp datagram, or null for anything else (an RTP packet is version 2, not "f"). */
export function parseCaptureStamp(datagram: Buffer): CaptureStamp | null {
  if (datagram.length !== STAMP_BYTES || datagram.readUInt32BE(0) !== MAGIC) return null;
  const us = datagram.readBigUInt64BE(8);
  if (us === 0n) return null;
  return { rtpTimestamp: datagram.readUInt32BE(4), capturedAtMs: Number(us) / 1000 };
}

/** The stamp the pipeline sends (tests, and the AV1 frames pipe's reader use the same numbers). */
export function captureStampDatagram(stamp: CaptureStamp): Buffer {
  const b = Buffer.alloc(STAMP_BYTES);
  b.writeUInt32BE(MAGIC, 0);
  b.writeUInt32BE(stamp.rtpTimestamp >>> 0, 4);
  b.writeBigUInt64BE(BigInt(Math.round(stamp.capturedAtMs * 1000)), 8);
  return b;
}

/**
 * Unix ms to NTP's 64-bit format (UQ32.32 seconds since 1900), the first 8 bytes of the
 * abs-capture-time extension. Split into seconds and fraction to stay exact: a double holds
 * ms since 1970 exactly but not 2^32 × seconds.
 */
export function unixMsToNtp64(ms: number): bigint {
  const seconds = Math.floor(ms / 1000);
  const fractionMs = ms - seconds * 1000;
  const fraction = BigInt(Math.round((fractionMs / 1000) * 2 ** 32));
  // modulo 2^64: NTP era 0 ends in 2036 and the seconds field wraps, as in every NTP stamp
  return ((BigInt(seconds + NTP_UNIX_OFFSET_S) << 32n) + fraction) & 0xffff_ffff_ffff_ffffn;
}

/** NTP 64-bit back to Unix ms (for tests and for reading what was sent). */
export function ntp64ToUnixMs(ntp: bigint): number {
  const seconds = Number(ntp >> 32n) - NTP_UNIX_OFFSET_S;
  const fraction = Number(ntp & 0xffff_ffffn) / 2 ** 32;
  return (seconds + fraction) * 1000;
}

/**
 * The extension's payload: the 8-byte capture timestamp alone. The optional 8-byte estimated
 * capture clock offset is left out: it is for a relay (an SFU or mixer) to say how the
 * original capturer's clock differs from its own; here capturer and sender are one host.
 */
export function absCaptureTimePayload(capturedAtMs: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(unixMsToNtp64(capturedAtMs));
  return b;
}

/**
 * Capture times by RTP timestamp, for the packets of frames still being sent: a stamp comes
 * before its frame's packets, and a frame's packets come together, so a few suffice.
 */
export class CaptureTimes {
  private readonly byTimestamp = new Map<number, number>();
  private readonly keep: number;
  constructor(keep = 32) {
    this.keep = keep;
  }

  add(stamp: CaptureStamp): void {
    this.byTimestamp.set(stamp.rtpTimestamp, stamp.capturedAtMs);
    if (this.byTimestamp.size > this.keep) {
      const oldest = this.byTimestamp.keys().next().value as number;
      this.byTimestamp.delete(oldest);
    }
  }

  /** The capture time of the frame an RTP packet belongs to, if stamped. */
  of(rtp: Buffer): number | undefined {
    return rtp.length >= 12 ? this.byTimestamp.get(rtp.readUInt32BE(4)) : undefined;
  }
}
