import { type EstimatorOptions, type PacketFeedback, SendSideEstimator } from './estimator.ts';
import { type TwccFeedbackFields, twccPacketResults } from './twcc.ts';

/** One feedback message as the estimator saw it: a line of a recorded trace (test fixtures). */
export interface TraceEntry {
  nowMs: number;
  packets: PacketFeedback[];
  targetKbps: number;
}

/** Feedback older than this means the browser stopped sending it: REMB decides again. */
const STALE_MS = 3000;

/**
 * The sender's side of transport-wide congestion control: remembers when each packet left
 * and how big it was (by transport sequence number, which werift stamps), matches the
 * browser's feedback to them and hands the result to the estimator.
 */
export class TwccSender {
  private readonly sendMs = new Float64Array(65_536).fill(Number.NaN);
  private readonly size = new Uint16Array(65_536);
  private readonly estimator: SendSideEstimator;
  private lastFeedbackMs = Number.NEGATIVE_INFINITY;
  private readonly onTarget: (kbps: number) => void;
  private readonly trace?: (entry: TraceEntry) => void;

  constructor(
    options: EstimatorOptions,
    onTarget: (kbps: number) => void,
    trace?: (entry: TraceEntry) => void,
  ) {
    this.estimator = new SendSideEstimator(options);
    this.onTarget = onTarget;
    this.trace = trace;
  }

  packetSent(seq: number, bytes: number, nowMs: number) {
    this.sendMs[seq & 0xffff] = nowMs;
    this.size[seq & 0xffff] = Math.min(bytes, 65_535);
  }

  feedback(fb: TwccFeedbackFields, nowMs: number) {
    const packets: PacketFeedback[] = [];
    for (const r of twccPacketResults(fb)) {
      const sendMs = this.sendMs[r.seq]!;
      if (Number.isNaN(sendMs)) continue; // not ours (audio), or already reported
      packets.push({ sendMs, size: this.size[r.seq]!, arrivalMs: r.arrivalMs });
      // A packet is reported once; a sequence number reused 65 536 packets later is new.
      if (r.arrivalMs !== null) this.sendMs[r.seq] = Number.NaN;
    }
    if (packets.length === 0) return;
    this.lastFeedbackMs = nowMs;
    const before = this.estimator.targetKbps;
    const targetKbps = this.estimator.onFeedback(packets, nowMs);
    this.trace?.({ nowMs, packets, targetKbps });
    if (targetKbps !== before) this.onTarget(targetKbps);
  }

  /** The estimate while the browser sends feedback, else null. */
  targetKbps(nowMs: number): number | null {
    return nowMs - this.lastFeedbackMs < STALE_MS ? this.estimator.targetKbps : null;
  }
}
