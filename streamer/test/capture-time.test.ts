// The capture-time plumbing's pure parts (capture-time.ts): the pipeline's stamp datagram,
// NTP's 64-bit format for abs-capture-time, and the lookup by RTP timestamp.
import { describe, expect, it } from 'vitest';
import {
  absCaptureTimePayload,
  CaptureTimes,
  captureStampDatagram,
  ntp64ToUnixMs,
  parseCaptureStamp,
  unixMsToNtp64,
} from '../src/capture-time.ts';

describe('NTP 64-bit time', () => {
  it.each([
    // Unix ms, NTP seconds (since 1900), NTP fraction (of 2^32)
    [0, 2_208_988_800, 0],
    [500, 2_208_988_800, 2 ** 31],
    [250, 2_208_988_800, 2 ** 30],
    [1_796_000_000_000, 2_208_988_800 + 1_796_000_000, 0],
    [1_796_000_000_999, 2_208_988_800 + 1_796_000_000, Math.round(0.999 * 2 ** 32)],
    // after NTP era 0 ends (2036-02-07), seconds no longer fit 32 bits: the era wraps
    [2_085_978_496_000, 0, 0],
    [2_085_978_497_500, 1, 2 ** 31],
  ])('%d ms since 1970 is %d s + %d/2^32 since 1900', (ms, seconds, fraction) => {
    const ntp = unixMsToNtp64(ms);
    expect(Number(ntp >> 32n)).toBe(seconds);
    expect(Number(ntp & 0xffff_ffffn)).toBe(fraction);
  });

  it.each([0, 1, 123.456, 1_796_568_100_556.25])('%d ms goes there and back', (ms) => {
    expect(ntp64ToUnixMs(unixMsToNtp64(ms))).toBeCloseTo(ms, 3);
  });

  it('the extension payload is the 8-byte timestamp alone, big-endian', () => {
    const payload = absCaptureTimePayload(500);
    expect(payload).toEqual(Buffer.from([0x83, 0xaa, 0x7e, 0x80, 0x80, 0, 0, 0]));
  });
});

describe('capture stamps from the pipeline', () => {
  const stamp = { rtpTimestamp: 0xfedc_ba98, capturedAtMs: 1_796_000_000_123.456 };

  it.each([
    ['a stamp', captureStampDatagram(stamp), stamp],
    ['an RTP packet (version 2)', Buffer.from([0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]), null],
    ['a stamp cut short', captureStampDatagram(stamp).subarray(0, 12), null],
    ['a stamp with no time', Buffer.concat([Buffer.from('floe'), Buffer.alloc(12)]), null],
    ['16 bytes of RTP', Buffer.concat([Buffer.from([0x80, 0x60]), Buffer.alloc(14)]), null],
  ])('%s', (_name, datagram, expected) => {
    const parsed = parseCaptureStamp(datagram);
    if (expected === null) expect(parsed).toBeNull();
    else {
      expect(parsed?.rtpTimestamp).toBe(expected.rtpTimestamp);
      expect(parsed?.capturedAtMs).toBeCloseTo(expected.capturedAtMs, 3);
    }
  });

  it('gives each packet its frame capture time, for the frames still being sent', () => {
    const rtp = (timestamp: number) => {
      const b = Buffer.alloc(12);
      b[0] = 0x80;
      b.writeUInt32BE(timestamp, 4);
      return b;
    };
    const times = new CaptureTimes(2);
    times.add({ rtpTimestamp: 3000, capturedAtMs: 10 });
    times.add({ rtpTimestamp: 6000, capturedAtMs: 43 });
    expect(times.of(rtp(3000))).toBe(10);
    expect(times.of(rtp(6000))).toBe(43);
    expect(times.of(rtp(9000))).toBeUndefined(); // not stamped
    expect(times.of(Buffer.alloc(4))).toBeUndefined(); // not RTP
    times.add({ rtpTimestamp: 9000, capturedAtMs: 76 });
    expect(times.of(rtp(3000))).toBeUndefined(); // the oldest went
    expect(times.of(rtp(9000))).toBe(76);
  });
});
