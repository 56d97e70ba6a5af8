/**
 * The streamer's clock relative to ours, from `ping`/`pong` round trips. The probe barcode
 * and the frames' capture times (capture-latency.ts) carry the streamer machine's wall-clock
 * time; on one machine the clocks agree, across machines they may differ by more than the
 * latency we measure, so those times are moved onto our clock before subtracting.
 */

export interface ClockSample {
  /** our Date.now() when the ping left */
  sent: number;
  /** our Date.now() when the pong arrived */
  received: number;
  /** the streamer's Date.now() when it answered */
  streamerTime: number;
}

/**
 * streamer clock − our clock, in ms, or null without samples. Taken from the quickest round
 * trip: the less time a probe spent in queues, the less its midpoint can be off (at most
 * half that round trip, if all of it was one way). When zero is within that error the clocks
 * are taken to agree: the data channel's two directions can differ by a hundred ms (seen with
 * werift's sender on loopback), and a skewed guess would distort every sample on one machine.
 */
export function clockOffset(samples: readonly ClockSample[]): number | null {
  let best: ClockSample | null = null;
  for (const s of samples) {
    if (s.received < s.sent) continue;
    if (!best || s.received - s.sent < best.received - best.sent) best = s;
  }
  if (!best) return null;
  const offset = best.streamerTime - (best.sent + best.received) / 2;
  return Math.abs(offset) <= (best.received - best.sent) / 2 ? 0 : offset;
}
