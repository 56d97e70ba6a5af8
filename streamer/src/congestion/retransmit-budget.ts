import {
  GenericNack,
  type RTCRtpSender,
  type RtcpPacket,
  RtcpTransportLayerFeedback,
  type RtpHeader,
  RtpPacket,
  serializeTransportWideCC,
  wrapRtx,
} from 'werift';
import { WIRE_OVERHEAD_BYTES } from './twcc-sender.ts';

/**
 * Which NACKed packets to send again. werift answers every NACK with every packet still in
 * its history, at once. When a link narrows, its queue overflows and the browser NACKs
 * hundreds of packets, then NACKs them again each round trip: resent in full, those alone
 * take seconds of the narrowed link, and no new frame gets through (a multi-second freeze
 * measured in bench/network.ts). As libwebrtc does, retransmissions here get a share of the
 * target bitrate (a token bucket holding at most 100 ms of it), and a packet is resent at
 * most once per 100 ms; the rest of the NACK is dropped (the browser asks again, or asks
 * for a keyframe, which is cheaper than repairing a narrow link's whole backlog).
 */
export const RETRANSMIT_SHARE = 0.25;
const BUCKET_MS = 100;
const RESEND_GAP_MS = 100;

export class RetransmitBudget {
  private tokens = 0;
  private lastMs: number | null = null;
  private readonly lastResend = new Map<number, number>();

  /** The NACKed sequence numbers to resend now; `sizeOf` gives a packet's bytes (undefined: not in history). */
  pick(
    lost: readonly number[],
    nowMs: number,
    targetKbps: number,
    sizeOf: (seq: number) => number | undefined,
  ): number[] {
    const bytesPerMs = (targetKbps * RETRANSMIT_SHARE) / 8;
    const elapsed = this.lastMs === null ? BUCKET_MS : nowMs - this.lastMs;
    this.lastMs = nowMs;
    this.tokens = Math.min(bytesPerMs * BUCKET_MS, this.tokens + elapsed * bytesPerMs);
    const picked: number[] = [];
    for (const seq of lost) {
      const size = sizeOf(seq);
      if (size === undefined) continue;
      const last = this.lastResend.get(seq);
      if (last !== undefined && nowMs - last < RESEND_GAP_MS) continue;
      if (size > this.tokens) break; // oldest first: the rest waits for the next NACK
      this.tokens -= size;
      this.lastResend.set(seq, nowMs);
      picked.push(seq);
    }
    for (const [seq, at] of this.lastResend) if (nowMs - at > 1000) this.lastResend.delete(seq);
    return picked;
  }
}

/** RTP_HISTORY_SIZE in werift's rtpSender.js: the packets it can resend, by sequence number. */
const WERIFT_HISTORY = 128;

/** werift's sender as far as retransmission goes: these members are private in its types. */
interface NackingSender {
  handleRtcpPacket(packet: RtcpPacket): void;
  rtpCache: (RtpPacket | undefined)[];
  rtxPayloadType?: number;
  rtxSequenceNumber: number;
  rtxSsrc: number;
  retransmittedPacketsSent: number;
  retransmittedBytesSent: number;
  headerBytesSent: number;
  dtlsTransport: {
    transportSequenceNumber: number;
    sendRtp(payload: Buffer, header: RtpHeader): Promise<number>;
  };
}

export interface RetransmitOptions {
  /** the target bitrate now, kbit/s */
  targetKbps: () => number;
  /** the negotiated id of the transport-wide-cc header extension, if any */
  transportCcId?: number;
  /** a resent packet left under a new transport-wide sequence number */
  sent?: (transportSeq: number, bytes: number) => void;
}

/**
 * Answers werift's NACKs under a RetransmitBudget, resending the picked packets itself.
 * werift would resend the cached packet as it was, with its first transport-wide sequence
 * number: the browser's feedback then reports that number as arrived a NACK round trip
 * late, and the congestion estimator reads the retransmission's age as a queue of a second
 * or two (and cuts for nothing). Each resend gets a number of its own, as libwebrtc does,
 * and is reported to the estimator as a packet sent now. werift still sees the NACK, with
 * nothing left to resend, so it counts it and fires its events.
 */
export function limitRetransmissions(sender: RTCRtpSender, options: RetransmitOptions) {
  const s = sender as unknown as NackingSender;
  const budget = new RetransmitBudget();
  const handle = s.handleRtcpPacket.bind(s);
  const cached = (seq: number) => {
    const p = s.rtpCache[seq % WERIFT_HISTORY];
    return p && p.header.sequenceNumber === seq ? p : undefined;
  };
  const resend = (original: RtpPacket) => {
    // a copy: the cached packet keeps its own extensions for a later NACK
    let packet = RtpPacket.deSerialize(original.serialize());
    const transport = s.dtlsTransport;
    const twcc = packet.header.extensions.find((e) => e.id === options.transportCcId);
    if (twcc) {
      transport.transportSequenceNumber = (transport.transportSequenceNumber + 1) & 0xffff;
      twcc.payload = serializeTransportWideCC(transport.transportSequenceNumber);
    }
    if (s.rtxPayloadType !== undefined) {
      packet = wrapRtx(packet, s.rtxPayloadType, s.rtxSequenceNumber, s.rtxSsrc);
      s.rtxSequenceNumber = (s.rtxSequenceNumber + 1) & 0xffff;
    }
    s.retransmittedPacketsSent++;
    s.retransmittedBytesSent += packet.payload.length;
    s.headerBytesSent += packet.header.serializeSize;
    if (twcc)
      options.sent?.(transport.transportSequenceNumber, packet.serializeSize + WIRE_OVERHEAD_BYTES);
    transport.sendRtp(packet.payload, packet.header).catch(() => {}); // as werift: a lost send is a lost packet
  };
  s.handleRtcpPacket = (packet) => {
    if (packet instanceof RtcpTransportLayerFeedback && packet.feedback instanceof GenericNack) {
      const picked = budget.pick(
        packet.feedback.lost,
        performance.now(),
        options.targetKbps(),
        (seq) => cached(seq)?.serializeSize,
      );
      for (const seq of picked) resend(cached(seq)!);
      packet.feedback.lost = [];
    }
    handle(packet);
  };
}
