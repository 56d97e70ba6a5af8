import { Av1Packetizer } from 'werift';

/** One encoded frame as the pipeline writes it on its frames pipe (floe_pipeline.py). */
export interface EncodedFrame {
  /** RTP timestamp, 90 kHz. */
  timestamp: number;
  keyframe: boolean;
  /** When the frame was captured, ms since the Unix epoch (capture-time.ts); 0 when unknown. */
  capturedAtMs: number;
  data: Buffer;
}

const HEADER = 17; // u32 length, u32 timestamp, u8 flags, u64 capture time (µs)

/**
 * Splits the pipeline's frames pipe into frames. Pipe reads cut anywhere, so bytes are kept
 * until a whole frame has come; push() returns the frames completed by this chunk.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): EncodedFrame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: EncodedFrame[] = [];
    let offset = 0;
    while (this.pending.length - offset >= HEADER) {
      const length = this.pending.readUInt32BE(offset);
      if (this.pending.length - offset - HEADER < length) break;
      frames.push({
        timestamp: this.pending.readUInt32BE(offset + 4),
        keyframe: (this.pending[offset + 8]! & 1) === 1,
        capturedAtMs: Number(this.pending.readBigUInt64BE(offset + 9)) / 1000,
        data: this.pending.subarray(offset + HEADER, offset + HEADER + length),
      });
      offset += HEADER + length;
    }
    // Copy the rest so the frames handed out do not pin the whole chunk.
    this.pending = Buffer.from(this.pending.subarray(offset));
    return frames;
  }
}

/**
 * AV1 temporal units to RTP (RFC 9628) with werift's packetizer: GStreamer in Debian 12 has
 * no rtpav1pay. The payload size matches the GStreamer payloaders' mtu=1200; sequence numbers,
 * SSRC and payload type are rewritten by werift's sender anyway.
 */
export function av1RtpPacketizer(): (frame: EncodedFrame) => Buffer[] {
  const packetizer = new Av1Packetizer({ maxPayloadSize: 1200 - 12 });
  return (frame) =>
    packetizer
      .packetize(frame.data, frame.timestamp, { isKeyframe: frame.keyframe })
      .map((packet) => packet.serialize());
}
