import type { StreamerMessage } from '@floe/streamer/protocol';
import {
  type CaptureLatencySummary,
  type FrameLatency,
  summarizeFrames,
} from './capture-latency.ts';
import { estimateLatency, type LatencySummary, summarizeLatency } from './latency.ts';
import type { VideoStats } from './stats.ts';

/** What the overlay shows and `window.__floe.stats()` returns: browser, streamer and latency. */

export type StreamerStats = Omit<Extract<StreamerMessage, { t: 'stats' }>, 't'>;

export interface StatsReport {
  /** Date.now() of the report */
  at: number;
  /** From the browser's getStats(), over the last second. */
  browser: VideoStats;
  /** The streamer's last `stats` message. */
  streamer: StreamerStats | null;
  latency: {
    /** From the probe barcode, over the recent samples; null when no probe is painted. */
    measured: LatencySummary | null;
    /**
     * From each shown frame's capture time (any app), over the recent frames; null when the
     * browser gives no capture time (capture-latency.ts).
     */
    fromCapture: CaptureLatencySummary | null;
    /** From encode + RTT/2 + jitter buffer + decode; null when the parts are unknown. */
    estimatedMs: number | null;
    /** Streamer clock − ours from ping/pong, ms; null before a pong (then taken as 0). */
    clockOffsetMs: number | null;
  };
}

export function composeReport(
  at: number,
  video: VideoStats,
  streamer: StreamerStats | null,
  recentLatencies: readonly number[],
  clockOffsetMs: number | null = null,
  recentFrames: readonly FrameLatency[] = [],
): StatsReport {
  const rttMs = video.rttMs ?? streamer?.rttMs ?? null;
  return {
    at,
    browser: { ...video, rttMs },
    streamer,
    latency: {
      measured: summarizeLatency(recentLatencies),
      fromCapture: summarizeFrames(recentFrames),
      estimatedMs: estimateLatency({
        // capture, colour conversion and encode: everything the streamer adds before sending
        encodeMs: streamer?.pipelineMs ?? streamer?.encodeMs ?? null,
        rttMs,
        jitterBufferMs: video.jitterBufferMs,
        decodeMs: video.decodeMs,
      }),
      clockOffsetMs,
    },
  };
}

const DASH = '–';
const ms = (v: number | null | undefined) => (v == null ? DASH : `${v.toFixed(1)} ms`);
const rate = (bits: number | null | undefined) => {
  if (bits == null) return DASH;
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(2)} Mbit/s`;
  return `${Math.round(bits / 1e3)} kbit/s`;
};

/** The overlay's rows, label and value, in display order. */
export function reportRows(report: StatsReport): [string, string][] {
  const { browser: r, streamer } = report;
  const m = report.latency.measured;
  const c = report.latency.fromCapture;
  const spread = (s: LatencySummary) =>
    `p50 ${s.p50.toFixed(0)} · p90 ${s.p90.toFixed(0)} · p99 ${s.p99.toFixed(0)} ms`;
  const rows: [string, string][] = [];
  if (c) {
    rows.push(
      ['glass-to-glass (measured)', spread(c)],
      ['  capture → received', ms(c.parts.toReceiveMs)],
      ['  received → decoded', ms(c.parts.toPresentMs)],
      ['  decoded → display', ms(c.parts.toDisplayMs)],
    );
    // the probe app's barcode, from paint rather than capture: the reference
    if (m) rows.push(['glass-to-glass (probe barcode)', spread(m)]);
  } else if (m) {
    rows.push(['glass-to-glass (measured)', spread(m)]);
  } else {
    rows.push(['glass-to-glass (estimated)', ms(report.latency.estimatedMs)]);
  }
  rows.push(
    ['fps', r.fps == null ? DASH : r.fps.toFixed(0)],
    ['bitrate', rate(r.bitrate)],
    ['RTT', ms(r.rttMs)],
    ['packet loss', r.lossPercent == null ? DASH : `${r.lossPercent.toFixed(2)} %`],
    ['decode', ms(r.decodeMs)],
    ['jitter buffer', ms(r.jitterBufferMs)],
    ['capture → encoded (streamer)', ms(streamer?.pipelineMs)],
    ['encode (streamer)', ms(streamer?.encodeMs)],
    ['target bitrate', rate(streamer?.targetBitrate)],
    ['codec', r.codec ?? streamer?.codec ?? DASH],
    ['resolution', r.width && r.height ? `${r.width}×${r.height}` : DASH],
    ['path', r.candidateType ? `${r.candidateType} → ${r.remoteCandidateType ?? '?'}` : DASH],
  );
  return rows;
}
