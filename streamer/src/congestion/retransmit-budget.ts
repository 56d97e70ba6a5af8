import {
  GenericNack,
  type RTCRtpSender,
  type RtcpPacket,
  RtcpTransportLayerFeedback,
  type RtpPacket,
} from 'werift';

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

/** werift's sender as far as retransmission goes; `rtpCache` is private in its types. */
interface NackingSender {
  handleRtcpPacket(packet: RtcpPacket): void;
  rtpCache: (RtpPacket | undefined)[];
}

/**
 * Puts werift's NACK answers under a RetransmitBudget: NACKs pass through with only the
 * picked sequence numbers (werift still counts them and fires its events).
 */
export function limitRetransmissions(sender: RTCRtpSender, targetKbps: () => number) {
  const s = sender as unknown as NackingSender;
  const budget = new RetransmitBudget();
  const handle = s.handleRtcpPacket.bind(s);
  const sizeOf = (seq: number) => {
    const p = s.rtpCache[seq % WERIFT_HISTORY];
    return p && p.header.sequenceNumber === seq ? p.serializeSize : undefined;
  };
  s.handleRtcpPacket = (packet) => {
    if (packet instanceof RtcpTransportLayerFeedback && packet.feedback instanceof GenericNack)
      packet.feedback.lost = budget.pick(
        packet.feedback.lost,
        performance.now(),
        targetKbps(),
        sizeOf,
      );
    handle(packet);
  };
}
