// Glass-to-glass from capture times (capture-latency.ts): the pure maths, as tables.
import { describe, expect, it } from 'vitest';
import {
  type CaptureAnchor,
  captureTimeIn,
  captureTimeOf,
  captureUnixMs,
  frameLatency,
  NTP_UNIX_OFFSET_MS,
  rememberAnchor,
  summarizeFrames,
} from '../src/stream/capture-latency.ts';

describe('a synchronization source capture time', () => {
  it.each([
    // captureTimestamp (NTP ms), senderCaptureTimeOffset, Unix ms on the streamer's clock
    [NTP_UNIX_OFFSET_MS + 1_796_000_000_000, undefined, 1_796_000_000_000],
    [NTP_UNIX_OFFSET_MS + 1_796_000_000_000, null, 1_796_000_000_000],
    [NTP_UNIX_OFFSET_MS + 1_796_000_000_000, 0, 1_796_000_000_000],
    // the capturer's clock runs 25 ms behind the sender's: on the sender's clock, 25 ms later
    [NTP_UNIX_OFFSET_MS + 1_796_000_000_000, 25, 1_796_000_000_025],
    [NTP_UNIX_OFFSET_MS + 1_796_000_000_000, -7.5, 1_796_000_000_000 - 7.5],
    [undefined, undefined, null],
    [0, undefined, null],
    [Number.NaN, undefined, null],
  ])('%s with offset %s is %s', (ntp, offset, unix) => {
    expect(captureUnixMs(ntp, offset)).toBe(unix);
  });
});

describe('the capture time of a shown frame', () => {
  const anchor: CaptureAnchor = { rtpTimestamp: 900_000, capturedAtMs: 5000 };
  it.each([
    // frame's RTP timestamp, expected capture time
    [900_000, 5000],
    [900_000 - 1500, 5000 - 1000 / 60], // the frame before, at 60 fps
    [900_000 + 3000, 5000 + 1000 / 30],
    [900_000 - 90_000, 4000], // a second before: still placed
    [900_000 - 90_001, null], // more than a second away: not placed
    [900_000 + 200_000, null],
  ])('RTP %d was captured at %s', (rtp, expected) => {
    const got = captureTimeOf(rtp, anchor);
    if (expected === null) expect(got).toBeNull();
    else expect(got).toBeCloseTo(expected, 6);
  });

  it.each([
    // across the 32-bit wrap, both ways
    [{ rtpTimestamp: 0xffff_fa00, capturedAtMs: 100 }, 0x0000_0000, 100 + 0x600 / 90],
    [{ rtpTimestamp: 0x0000_0100, capturedAtMs: 100 }, 0xffff_ff00, 100 - 0x200 / 90],
  ])('wraps: anchor %o, RTP %d → %d', (a, rtp, expected) => {
    expect(captureTimeOf(rtp, a)).toBeCloseTo(expected, 6);
  });

  it('uses the frame own stamp when one was read, else places it from the newest', () => {
    let anchors: CaptureAnchor[] = [];
    for (const [rtp, at] of [
      [1000, 10],
      [2500, 28], // captured late: 1500 ticks later on the RTP clock, 18 ms by the stamp
      [2500, 28], // read again: kept once
      [4000, 45],
    ] as const)
      anchors = rememberAnchor(anchors, { rtpTimestamp: rtp, capturedAtMs: at }, 2);
    expect(anchors.map((a) => a.rtpTimestamp)).toEqual([2500, 4000]);
    expect(captureTimeIn(2500, anchors)).toEqual({ capturedAtMs: 28, exact: true });
    expect(captureTimeIn(1000, anchors)).toEqual({
      capturedAtMs: 45 - 3000 / 90,
      exact: false,
    });
    expect(captureTimeIn(1000, [])).toBeNull();
  });
});

describe('a frame latency and its parts', () => {
  const frame = {
    capturedAtMs: 1000,
    receivedAtMs: 1012,
    presentedAtMs: 1015,
    displayAtMs: 1030,
  };
  it.each([
    // streamer clock − ours, expected total, to receive, to present, to display
    [0, 30, 12, 3, 15],
    // the streamer's clock is 100 ms ahead: its capture at 1000 was our 900
    [100, 130, 112, 3, 15],
    [-5, 25, 7, 3, 15],
  ])('offset %d ms: %d = %d + %d + %d', (offset, total, receive, present, display) => {
    expect(frameLatency(frame, offset)).toEqual({
      totalMs: total,
      exact: true,
      toReceiveMs: receive,
      toPresentMs: present,
      toDisplayMs: display,
    });
  });

  it.each([
    ['displayed before captured (a wrong offset)', { ...frame, displayAtMs: 990 }, 0],
    ['more than 10 s', frame, -20_000],
  ])('is dropped when implausible: %s', (_name, times, offset) => {
    expect(frameLatency(times, offset)).toBeNull();
  });

  it('leaves out the parts the browser does not give', () => {
    const f = frameLatency({ ...frame, receivedAtMs: null, presentedAtMs: null }, 0, false);
    expect(f).toEqual({
      totalMs: 30,
      exact: false,
      toReceiveMs: null,
      toPresentMs: null,
      toDisplayMs: null,
    });
  });

  it('summarizes percentiles of the total and medians of the parts', () => {
    const frames = [10, 20, 30, 40, 100].map((totalMs, i) => ({
      totalMs,
      exact: true,
      toReceiveMs: i,
      toPresentMs: i === 0 ? null : 2,
      toDisplayMs: totalMs - i - 2,
    }));
    expect(summarizeFrames(frames)).toEqual({
      p50: 30,
      p90: 100,
      p99: 100,
      count: 5,
      parts: { toReceiveMs: 2, toPresentMs: 2, toDisplayMs: 26 },
    });
    expect(summarizeFrames([])).toBeNull();
  });
});
