import { RtpHeader, RtpPacket } from 'werift';
import type { ProbeRequest } from './estimator.ts';
import { WIRE_OVERHEAD_BYTES } from './twcc-sender.ts';

/**
 * Sends the estimator's probes (estimator.ts, nextProbe) as RTP padding on the video stream,
 * as libwebrtc does where no RTX is negotiated: packets whose whole payload is padding, which
 * the browser counts in its transport-wide feedback and otherwise drops. Padding needs
 * sequence numbers of its own, so every media packet is renumbered here past the padding
 * sent so far. It goes only between frames (after a packet with the marker bit): the
 * browser assembles a frame from consecutive sequence numbers, and padding inside one
 * would leave a hole that never fills.
 */

/** RTP padding is at most 255 bytes (its length is one byte) */
const PADDING_BYTES = 255;
const PACE_EVERY_MS = 1;

interface Scheduled {
  dueMs: number;
  probe: number;
}

export class Prober {
  private shift = 0;
  private last: { seq: number; timestamp: number; payloadType: number } | null = null;
  private betweenFrames = true;
  private readonly due: Scheduled[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly send: (packet: RtpPacket) => number | undefined;
  private readonly sent: (transportSeq: number, bytes: number, probe: number) => void;
  private readonly now: () => number;

  /**
   * `send` writes a packet to the peer and returns the transport-wide sequence number it was
   * given (undefined when none); `sent` reports it to congestion control.
   */
  constructor(
    send: (packet: RtpPacket) => number | undefined,
    sent: (transportSeq: number, bytes: number, probe: number) => void,
    now: () => number = () => performance.now(),
  ) {
    this.send = send;
    this.sent = sent;
    this.now = now;
  }

  /** Renumbers a media packet (in place) past the padding sent so far. */
  media(header: RtpHeader) {
    header.sequenceNumber = (header.sequenceNumber + this.shift) & 0xffff;
    this.last = {
      seq: header.sequenceNumber,
      timestamp: header.timestamp,
      payloadType: header.payloadType,
    };
    this.betweenFrames = header.marker;
  }

  /** Schedules a probe's padding, paced at its rate. */
  probe(request: ProbeRequest) {
    const wire = PADDING_BYTES + 12 + WIRE_OVERHEAD_BYTES;
    const count = Math.max(5, Math.ceil(request.bytes / wire));
    const gapMs = (wire * 8) / request.rateKbps;
    const start = this.now();
    for (let i = 0; i < count; i++) this.due.push({ dueMs: start + i * gapMs, probe: request.id });
    this.pace();
    this.timer ??= setInterval(() => this.pace(), PACE_EVERY_MS);
  }

  /** Sends what is due, between frames; ends the timer when nothing is left. */
  private pace() {
    if (this.last && this.betweenFrames) {
      const now = this.now();
      while (this.due.length > 0 && this.due[0]!.dueMs <= now) {
        const { probe } = this.due.shift()!;
        this.padding(probe);
      }
    }
    if (this.due.length === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private padding(probe: number) {
    const last = this.last!;
    const payload = Buffer.alloc(PADDING_BYTES);
    payload[PADDING_BYTES - 1] = PADDING_BYTES; // the last byte counts the padding
    last.seq = (last.seq + 1) & 0xffff;
    this.shift = (this.shift + 1) & 0xffff;
    const packet = new RtpPacket(
      new RtpHeader({
        payloadType: last.payloadType,
        sequenceNumber: last.seq,
        timestamp: last.timestamp,
        marker: false,
        padding: true,
      }),
      payload,
    );
    const transportSeq = this.send(packet);
    if (transportSeq !== undefined)
      this.sent(transportSeq, packet.serializeSize + WIRE_OVERHEAD_BYTES, probe);
  }

  close() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.due.length = 0;
  }
}
