/**
 * Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
 * extensions-01) read into one result per packet.
 *
 * Why not werift's own `packetResults`: it skips status-vector chunks (which Chrome sends as
 * soon as a window mixes received and lost packets, or small and large deltas), starts every
 * run-length chunk at the same sequence number, and truncates each 250 µs delta to whole
 * milliseconds, so its arrival times drift by up to a millisecond a packet. Its parse of the
 * chunks and deltas themselves is right, so this reads those.
 */

/** The fields of werift's parsed TransportWideCC that this reads. */
export interface TwccFeedbackFields {
  baseSequenceNumber: number;
  packetStatusCount: number;
  /** 24-bit, in units of 64 ms */
  referenceTime: number;
  fbPktCount: number;
  packetChunks: ({ packetStatus: number; runLength: number } | { symbolList: number[] })[];
  /** µs, one per received packet, in order */
  recvDeltas: { delta: number }[];
}

export interface TwccPacketResult {
  /** transport-wide sequence number, 16-bit */
  seq: number;
  /** Arrival on the receiver's clock, ms (reference time + deltas); null when lost. */
  arrivalMs: number | null;
}

/** Status 1 and 2: received, with a small or a large delta; 0: not received. */
const received = (status: number) => status === 1 || status === 2;

export function twccPacketResults(fb: TwccFeedbackFields): TwccPacketResult[] {
  const statuses: number[] = [];
  for (const chunk of fb.packetChunks) {
    if ('symbolList' in chunk) statuses.push(...chunk.symbolList);
    else for (let i = 0; i < chunk.runLength; i++) statuses.push(chunk.packetStatus);
  }
  statuses.length = Math.min(statuses.length, fb.packetStatusCount);
  let arrivalUs = fb.referenceTime * 64_000;
  let delta = 0;
  return statuses.map((status, i) => {
    const seq = (fb.baseSequenceNumber + i) & 0xffff;
    if (!received(status)) return { seq, arrivalMs: null };
    arrivalUs += fb.recvDeltas[delta++]?.delta ?? 0;
    return { seq, arrivalMs: arrivalUs / 1000 };
  });
}
