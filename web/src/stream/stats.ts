/**
 * Reads the numbers of the stats overlay out of RTCPeerConnection.getStats(). Most WebRTC
 * stats are running totals; rates and per-frame figures come from the difference between two
 * samples, so `readSample` takes the totals and `summarize` turns two samples into figures.
 */
import { offeredAs } from '@floe/streamer/codec';

/** The codec as the streamer names it (`H264-444` for H.264's 4:4:4 profile), else as sent. */
function codecName(mimeType: string | null, fmtp: string | null): string | null {
  const name = mimeType?.replace(/^video\//i, '');
  return name ? (offeredAs(name, fmtp ?? '') ?? name) : null;
}

/** One entry of an RTCStatsReport, loosely typed: fields differ between browsers. */
export interface StatsEntry {
  id: string;
  type: string;
  timestamp?: number;
  [field: string]: unknown;
}

export interface StatsSample {
  /** ms, from the report's timestamps */
  time: number;
  framesDecoded: number | null;
  framesPerSecond: number | null;
  bytesReceived: number | null;
  packetsReceived: number | null;
  packetsLost: number | null;
  totalDecodeTime: number | null;
  jitterBufferDelay: number | null;
  jitterBufferEmittedCount: number | null;
  frameWidth: number | null;
  frameHeight: number | null;
  codec: string | null;
  rttMs: number | null;
  candidateType: string | null;
  remoteCandidateType: string | null;
}

export interface VideoStats {
  fps: number | null;
  /** bits/s of video payload received */
  bitrate: number | null;
  rttMs: number | null;
  /** % of video packets lost over the interval */
  lossPercent: number | null;
  decodeMs: number | null;
  jitterBufferMs: number | null;
  codec: string | null;
  width: number | null;
  height: number | null;
  /** 'host', 'srflx', 'prflx' or 'relay': how this side reaches the streamer */
  candidateType: string | null;
  /** the same for the streamer's side */
  remoteCandidateType: string | null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function readSample(entries: Iterable<StatsEntry>): StatsSample {
  const byId = new Map<string, StatsEntry>();
  let video: StatsEntry | undefined;
  let transport: StatsEntry | undefined;
  let nominatedPair: StatsEntry | undefined;
  let time = 0;
  for (const e of entries) {
    byId.set(e.id, e);
    time = Math.max(time, num(e.timestamp) ?? 0);
    if (e.type === 'inbound-rtp' && (e.kind ?? e.mediaType) === 'video') video = e;
    if (e.type === 'transport') transport = e;
    // Firefox marks the pair in use with `selected`; Chrome names it from the transport.
    if (e.type === 'candidate-pair' && (e.selected === true || e.nominated === true)) {
      if (e.selected === true || e.state === 'succeeded' || !nominatedPair) nominatedPair = e;
    }
  }
  const selectedId = str(transport?.selectedCandidatePairId);
  const pair = (selectedId ? byId.get(selectedId) : undefined) ?? nominatedPair;
  const local = pair ? byId.get(String(pair.localCandidateId)) : undefined;
  const remote = pair ? byId.get(String(pair.remoteCandidateId)) : undefined;
  const codec = video ? byId.get(String(video.codecId)) : undefined;
  const rtt = num(pair?.currentRoundTripTime);
  return {
    time,
    framesDecoded: num(video?.framesDecoded),
    framesPerSecond: num(video?.framesPerSecond),
    bytesReceived: num(video?.bytesReceived),
    packetsReceived: num(video?.packetsReceived),
    packetsLost: num(video?.packetsLost),
    totalDecodeTime: num(video?.totalDecodeTime),
    jitterBufferDelay: num(video?.jitterBufferDelay),
    jitterBufferEmittedCount: num(video?.jitterBufferEmittedCount),
    frameWidth: num(video?.frameWidth),
    frameHeight: num(video?.frameHeight),
    codec: codecName(str(codec?.mimeType), str(codec?.sdpFmtpLine)),
    rttMs: rtt === null ? null : rtt * 1000,
    candidateType: str(local?.candidateType),
    remoteCandidateType: str(remote?.candidateType),
  };
}

/** Difference of a running total between samples, null when either is missing or it went back. */
function delta(prev: StatsSample | null, cur: StatsSample, key: keyof StatsSample): number | null {
  const a = prev ? num(prev[key]) : null;
  const b = num(cur[key]);
  if (a === null || b === null || b < a) return null;
  return b - a;
}

const ratio = (n: number | null, d: number | null, scale = 1) =>
  n === null || d === null || d <= 0 ? null : (n / d) * scale;

export function summarize(prev: StatsSample | null, cur: StatsSample): VideoStats {
  const seconds = prev && cur.time > prev.time ? (cur.time - prev.time) / 1000 : null;
  const frames = delta(prev, cur, 'framesDecoded');
  const lost = delta(prev, cur, 'packetsLost');
  const received = delta(prev, cur, 'packetsReceived');
  const bytes = delta(prev, cur, 'bytesReceived');
  return {
    fps: cur.framesPerSecond ?? ratio(frames, seconds),
    bitrate: ratio(bytes === null ? null : bytes * 8, seconds),
    rttMs: cur.rttMs,
    lossPercent:
      lost === null || received === null ? null : (ratio(lost, lost + received, 100) ?? 0),
    decodeMs: ratio(delta(prev, cur, 'totalDecodeTime'), frames, 1000),
    jitterBufferMs: ratio(
      delta(prev, cur, 'jitterBufferDelay'),
      delta(prev, cur, 'jitterBufferEmittedCount'),
      1000,
    ),
    codec: cur.codec,
    width: cur.frameWidth,
    height: cur.frameHeight,
    candidateType: cur.candidateType,
    remoteCandidateType: cur.remoteCandidateType,
  };
}
