/**
 * Congestion control for the encoder, a pure decision from receiver feedback.
 *
 * Where the browser sends transport-wide feedback, the send-side estimate (congestion/,
 * delay- and loss-based) is the target as it is, within the bounds. Otherwise Chrome sends REMB (its receive-side estimate) when the answer offers `goog-remb`; RTCP
 * receiver reports add the fraction of packets lost. The target follows REMB down at once
 * (congestion builds queues, and queues are latency), backs off on loss, and climbs slowly
 * (8 % a second) when the path is clean, always within the configured bounds.
 */
export interface BitrateBounds {
  minKbps: number;
  maxKbps: number;
}

export interface ReceiverFeedback {
  /** The receiver's estimate of what it can take, kbps; null when it has sent none. */
  rembKbps: number | null;
  /** Fraction of packets lost since the last report, 0..1; null when unknown. */
  fractionLost: number | null;
  /** The send-side estimate from transport-wide feedback, kbps; null without such feedback. */
  twccKbps: number | null;
}

export function nextBitrate(
  currentKbps: number,
  feedback: ReceiverFeedback,
  bounds: BitrateBounds,
): number {
  const clamp = (kbps: number) =>
    Math.round(Math.min(bounds.maxKbps, Math.max(bounds.minKbps, kbps)));
  if (feedback.twccKbps !== null) return clamp(feedback.twccKbps);
  let target = currentKbps;
  const loss = feedback.fractionLost ?? 0;
  if (loss > 0.1) target = currentKbps * (1 - loss / 2);
  else if (loss < 0.02) target = currentKbps * 1.08;
  // Stay under what the receiver says it can take, leaving headroom for retransmissions.
  if (feedback.rembKbps !== null) target = Math.min(target, feedback.rembKbps * 0.9);
  return clamp(target);
}

/** Whether a change is worth telling the encoder (each change can cost a little quality). */
export function worthChanging(currentKbps: number, nextKbps: number): boolean {
  return Math.abs(nextKbps - currentKbps) / currentKbps >= 0.05;
}
