import { describe, expect, it } from 'vitest';
import { BARCODE, BARCODE_WIDTH, encodeBarcode } from '../../streamer/src/barcode.ts';
import {
  estimateLatency,
  latencySample,
  percentile,
  readBarcode,
  summarizeLatency,
} from '../src/stream/latency.ts';
import { composeReport, reportRows } from '../src/stream/report.ts';
import { readSample, type StatsEntry, summarize } from '../src/stream/stats.ts';

function report(t: number, video: Record<string, number>): StatsEntry[] {
  return [
    { id: 'T', type: 'transport', timestamp: t, selectedCandidatePairId: 'P' },
    {
      id: 'P',
      type: 'candidate-pair',
      timestamp: t,
      localCandidateId: 'L',
      remoteCandidateId: 'R',
      currentRoundTripTime: 0.012,
      nominated: true,
      state: 'succeeded',
    },
    { id: 'L', type: 'local-candidate', timestamp: t, candidateType: 'relay' },
    { id: 'R', type: 'remote-candidate', timestamp: t, candidateType: 'host' },
    { id: 'C', type: 'codec', timestamp: t, mimeType: 'video/H264' },
    { id: 'A', type: 'inbound-rtp', kind: 'audio', timestamp: t, bytesReceived: 999_999 },
    { id: 'V', type: 'inbound-rtp', kind: 'video', timestamp: t, codecId: 'C', ...video },
  ];
}

describe('stats', () => {
  const first = readSample(
    report(1000, {
      framesDecoded: 100,
      bytesReceived: 1_000_000,
      packetsReceived: 1000,
      packetsLost: 10,
      totalDecodeTime: 0.5,
      jitterBufferDelay: 2,
      jitterBufferEmittedCount: 100,
      frameWidth: 1920,
      frameHeight: 1080,
    }),
  );
  const second = readSample(
    report(2000, {
      framesDecoded: 160,
      bytesReceived: 1_500_000,
      packetsReceived: 1495,
      packetsLost: 15,
      totalDecodeTime: 0.62,
      jitterBufferDelay: 2.3,
      jitterBufferEmittedCount: 160,
      frameWidth: 1920,
      frameHeight: 1080,
    }),
  );

  it('names a 4:4:4 profile as the streamer does', () => {
    const entries = report(0, {}).map((e) =>
      e.type === 'codec'
        ? {
            ...e,
            sdpFmtpLine: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f',
          }
        : e,
    );
    expect(readSample(entries).codec).toBe('H264-444');
  });

  it('reads the video stream, the selected path and the codec', () => {
    expect(second).toMatchObject({
      codec: 'H264',
      rttMs: 12,
      candidateType: 'relay',
      remoteCandidateType: 'host',
      bytesReceived: 1_500_000,
    });
  });

  it('computes rates and per-frame figures over the interval', () => {
    const s = summarize(first, second);
    expect(s.fps).toBeCloseTo(60);
    expect(s.bitrate).toBeCloseTo(4_000_000);
    expect(s.lossPercent).toBeCloseTo(1);
    expect(s.decodeMs).toBeCloseTo(2);
    expect(s.jitterBufferMs).toBeCloseTo(5);
    expect(s).toMatchObject({ width: 1920, height: 1080, rttMs: 12, codec: 'H264' });
  });

  it('has no rates from a single sample', () => {
    const s = summarize(null, first);
    expect(s).toMatchObject({ fps: null, bitrate: null, decodeMs: null, lossPercent: null });
    expect(s.rttMs).toBe(12);
  });

  it('prefers the browser’s own framesPerSecond', () => {
    const withFps = readSample(report(2000, { framesDecoded: 160, framesPerSecond: 59 }));
    expect(summarize(first, withFps).fps).toBe(59);
  });

  it('shows measured latency when probe samples exist, else an estimate', () => {
    const video = summarize(first, second);
    const streamer = {
      fps: 60,
      encodeMs: 3,
      pipelineMs: 4,
      targetBitrate: 8e6,
      sentBitrate: 7e6,
      rttMs: 11,
      codec: 'H264' as const,
    };
    const estimated = composeReport(0, video, streamer, []);
    expect(estimated.latency.estimatedMs).toBeCloseTo(4 + 6 + 5 + 2);
    expect(reportRows(estimated)[0]).toEqual(['glass-to-glass (estimated)', '17.0 ms']);

    const measured = composeReport(0, video, streamer, [30, 40, 50]);
    expect(measured.latency.measured).toEqual({ p50: 40, p90: 50, p99: 50, count: 3 });
    expect(reportRows(measured)[0]?.[0]).toBe('glass-to-glass (measured)');

    // Capture times (any app): measured from them, with the parts; the barcode, when there
    // is one, follows as the reference.
    const frame = (totalMs: number) => ({
      totalMs,
      exact: true,
      toReceiveMs: 8,
      toPresentMs: 2,
      toDisplayMs: totalMs - 10,
    });
    const fromCapture = composeReport(0, video, streamer, [], null, [20, 25, 30].map(frame));
    expect(reportRows(fromCapture).slice(0, 4)).toEqual([
      ['glass-to-glass (measured)', 'p50 25 · p90 30 · p99 30 ms'],
      ['  capture → received', '8.0 ms'],
      ['  received → decoded', '2.0 ms'],
      ['  decoded → display', '15.0 ms'],
    ]);
    expect(reportRows(fromCapture).some(([label]) => label.includes('estimated'))).toBe(false);
    const both = composeReport(0, video, streamer, [30, 40, 50], null, [20, 25, 30].map(frame));
    expect(reportRows(both)[4]).toEqual([
      'glass-to-glass (probe barcode)',
      'p50 40 · p90 50 · p99 50 ms',
    ]);
  });
});

describe('latency', () => {
  it('reads the probe barcode from RGBA pixels', () => {
    const time = 1_764_000_123_456;
    const cells = encodeBarcode(time);
    const rgba = new Uint8ClampedArray(BARCODE_WIDTH * BARCODE.height * 4);
    for (let y = 0; y < BARCODE.height; y++) {
      for (let x = 0; x < BARCODE_WIDTH; x++) {
        const v = cells[Math.floor(x / BARCODE.cellWidth)] ? 235 : 16; // video range levels
        rgba.set([v, v, v, 255], (y * BARCODE_WIDTH + x) * 4);
      }
    }
    expect(readBarcode(rgba, BARCODE_WIDTH)).toBe(time);
    expect(readBarcode(new Uint8ClampedArray(rgba.length), BARCODE_WIDTH)).toBeNull();
  });

  it('discards implausible samples', () => {
    expect(latencySample(1050, 1000)).toBe(50);
    expect(latencySample(1000, 1050)).toBeNull();
    expect(latencySample(100_000, 1000)).toBeNull();
  });

  it('uses nearest-rank percentiles', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(sorted, 50)).toBe(50);
    expect(percentile(sorted, 90)).toBe(90);
    expect(percentile(sorted, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(summarizeLatency([])).toBeNull();
  });

  it('estimates only when encode time and RTT are known', () => {
    expect(estimateLatency({ encodeMs: 5, rttMs: 20, jitterBufferMs: null, decodeMs: 3 })).toBe(18);
    expect(
      estimateLatency({ encodeMs: null, rttMs: 20, jitterBufferMs: 1, decodeMs: 3 }),
    ).toBeNull();
  });
});
