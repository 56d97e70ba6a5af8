import {
  type EstimatorOptions,
  type PacketFeedback,
  type ProbeRequest,
  SendSideEstimator,
} from './estimator.ts';
import { type TwccFeedbackFields, twccPacketResults } from './twcc.ts';

/** One feedback message as the estimator saw it: a line of a recorded trace (test fixtures). */
export interface TraceEntry {
  nowMs: number;
  packets: PacketFeedback[];
  targetKbps: number;
}

export interface TwccSenderEvents {
  /** the estimate changed */
  target(kbps: number): void;
  /**
   * A keyframe repairs the picture sooner than NACK: the path came back after an outage
   * (see outageEnded), or the loss of an overflowing queue has just ended.
   */
  keyframeNeeded?(): void;
  /**
   * The link dropped suddenly (the estimator's step): send no video for `holdMs`, then only
   * from a keyframe on (keyframe-gate.ts).
   */
  step?(holdMs: number): void;
  /** send this padding now, reporting each packet with packetSent(…, probe.id) */
  probe?(probe: ProbeRequest): void;
  trace?(entry: TraceEntry): void;
}

/**
 * What a packet costs on the wire besides its RTP bytes, roughly: the SRTP tag, UDP/IP and
 * the TURN channel header. Every packet reported to packetSent is counted with it.
 */
export const WIRE_OVERHEAD_BYTES = 60;

/**
 * How long video is held after a step: the queue then drains at the link's whole rate, and
 * makes room for a keyframe at the new target. x264's VBV holds 120 ms of the target, which
 * the cut puts under 0.85 of the link: 100 ms of the link, and the frame or so the encoder
 * takes to send the keyframe asked for at its end, are room for it.
 */
export const STEP_HOLD_MS = 100;

/** Feedback older than this means the browser stopped sending it: REMB decides again. */
const STALE_MS = 3000;

/**
 * Whether feedback that resumes after `silentMs` without any, losing `lostFraction` of what
 * it reports, ends an outage of the path. Then the browser holds frames it cannot decode
 * (their references were lost and are past the retransmission history) and would ask for a
 * keyframe only once its NACKs have failed, a second or more later; sending one at once
 * ends the freeze a round trip after the path is back.
 */
export function outageEnded(silentMs: number, lostFraction: number): boolean {
  return silentMs >= 1000 && lostFraction >= 0.5;
}

/**
 * The sender's side of transport-wide congestion control: remembers when each packet left
 * and how big it was (by transport sequence number, which werift stamps), matches the
 * browser's feedback to them and hands the result to the estimator.
 */
export class TwccSender {
  private readonly sendMs = new Float64Array(65_536).fill(Number.NaN);
  private readonly size = new Uint16Array(65_536);
  /** the probe a packet was padding of; 0: media */
  private readonly probeOf = new Uint32Array(65_536);
  private readonly estimator: SendSideEstimator;
  private lastFeedbackMs = Number.NEGATIVE_INFINITY;
  private overflowed = false;
  /** when the newest lost media packet was sent */
  private lastLostMs = Number.NEGATIVE_INFINITY;
  /** about when the last step's keyframe was asked for (nothing sent before it is needed) */
  private stepKeyframeMs = Number.NEGATIVE_INFINITY;
  private readonly on: TwccSenderEvents;

  constructor(options: EstimatorOptions, on: TwccSenderEvents) {
    this.estimator = new SendSideEstimator(options);
    this.on = on;
  }

  packetSent(seq: number, bytes: number, nowMs: number, probe?: number) {
    this.sendMs[seq & 0xffff] = nowMs;
    this.size[seq & 0xffff] = Math.min(bytes, 65_535);
    this.probeOf[seq & 0xffff] = probe ?? 0;
  }

  feedback(fb: TwccFeedbackFields, nowMs: number) {
    const packets: PacketFeedback[] = [];
    for (const r of twccPacketResults(fb)) {
      const sendMs = this.sendMs[r.seq]!;
      if (Number.isNaN(sendMs)) continue; // not ours (audio), or already reported
      const probe = this.probeOf[r.seq] || undefined;
      packets.push({ sendMs, size: this.size[r.seq]!, arrivalMs: r.arrivalMs, probe });
      // A packet is reported once; a sequence number reused 65 536 packets later is new.
      if (r.arrivalMs !== null) this.sendMs[r.seq] = Number.NaN;
    }
    if (packets.length === 0) return;
    const media = packets.filter((p) => p.probe === undefined);
    const lost = media.filter((p) => p.arrivalMs === null).length / Math.max(1, media.length);
    const outage = outageEnded(nowMs - this.lastFeedbackMs, lost);
    if (outage) this.on.keyframeNeeded?.();
    // A queue that overflowed (a link that narrowed) lost more than NACK repairs in time; a
    // keyframe made while it overflows would be lost too, so it is made once the loss ends;
    // unless the step's keyframe came after all that was lost.
    for (const p of media)
      if (p.arrivalMs === null) this.lastLostMs = Math.max(this.lastLostMs, p.sendMs);
    if (media.length >= 20 && lost >= 0.5) this.overflowed = true;
    else if (this.overflowed && lost === 0 && this.estimator.state.queueMs < 50) {
      this.overflowed = false;
      if (this.lastLostMs > this.stepKeyframeMs) this.on.keyframeNeeded?.();
    }
    this.lastFeedbackMs = nowMs;
    const before = this.estimator.targetKbps;
    const targetKbps = this.estimator.onFeedback(packets, nowMs);
    if (outage) this.estimator.probeBackTo(before);
    this.on.trace?.({ nowMs, packets, targetKbps });
    if (targetKbps !== before) this.on.target(targetKbps);
    if (this.estimator.stepAtMs === nowMs && this.on.step) {
      this.stepKeyframeMs = nowMs + STEP_HOLD_MS;
      this.on.step(STEP_HOLD_MS);
    }
    const probe = this.estimator.nextProbe(nowMs);
    if (probe) this.on.probe?.(probe);
  }

  /** The estimate while the browser sends feedback, else null. */
  targetKbps(nowMs: number): number | null {
    return nowMs - this.lastFeedbackMs < STALE_MS ? this.estimator.targetKbps : null;
  }
}
