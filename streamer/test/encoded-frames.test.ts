// Each codec's RTP, from real pipelines (floe_pipeline.py on GStreamer, bare source): every
// frame depacketizes with werift's depacketizers, the stream opens with a keyframe, a
// keyframe request is answered with one at once, a bitrate change leaves it running, and the
// bitstream is of the profile the codec is negotiated as (4:4:4 for the full-colour ones).
// AV1's frames pipe (encoded-frames.ts) is checked byte by byte first.

import { describe, expect, it } from 'vitest';
import { type DepacketizerCodec, dePacketizeRtpPackets, RtpPacket } from 'werift';
import { type EncodedFrame, FrameReader } from '../src/encoded-frames.ts';
import { startPipeline } from '../src/pipeline.ts';
import { type RtpCodec, rtpCodec, VIDEO_CODECS, type VideoCodec } from '../src/protocol.ts';

function framed(frame: EncodedFrame): Buffer {
  const header = Buffer.alloc(17);
  header.writeUInt32BE(frame.data.length, 0);
  header.writeUInt32BE(frame.timestamp, 4);
  header[8] = frame.keyframe ? 1 : 0;
  header.writeBigUInt64BE(BigInt(frame.capturedAtMs * 1000), 9);
  return Buffer.concat([header, frame.data]);
}

describe('the AV1 frames pipe', () => {
  const frames: EncodedFrame[] = [
    {
      timestamp: 90_000,
      keyframe: true,
      capturedAtMs: 1_796_000_000_123.456,
      data: Buffer.from('sequence header and frame'),
    },
    { timestamp: 91_500, keyframe: false, capturedAtMs: 0, data: Buffer.alloc(0) },
    { timestamp: 0xffff_fff0, keyframe: false, capturedAtMs: 1, data: Buffer.from([1, 2, 3]) },
  ];
  const stream = Buffer.concat(frames.map(framed));

  it('gives the same frames wherever the pipe cuts its reads', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      for (const step of [1, 7, stream.length]) {
        const reader = new FrameReader();
        const out = [...reader.push(stream.subarray(0, cut))];
        for (let at = cut; at < stream.length; at += step)
          out.push(...reader.push(stream.subarray(at, at + step)));
        expect(out).toEqual(frames);
      }
    }
  });

  it('holds a frame back until all of it has come', () => {
    const reader = new FrameReader();
    expect(reader.push(stream.subarray(0, 17 + 3))).toEqual([]);
    expect(reader.push(stream.subarray(17 + 3, 17 + frames[0]!.data.length))).toEqual([frames[0]]);
  });
});

/**
 * The profile a keyframe declares: H.264's profile_idc from its sequence parameter set (66
 * constrained baseline, 244 High 4:4:4 Predictive), VP9's from its frame header (0: 4:2:0,
 * 1: 4:4:4). Null for the codecs with one 8-bit profile here.
 */
function declaredProfile(codec: VideoCodec, keyframe: Buffer): number | null {
  switch (rtpCodec(codec)) {
    case 'H264': {
      // Annex B: a start code, then the NAL header (type 7 is an SPS), then profile_idc
      for (let i = 0; i + 4 < keyframe.length; i++) {
        if (keyframe.readUIntBE(i, 3) === 1 && (keyframe[i + 3]! & 0x1f) === 7)
          return keyframe[i + 4]!;
      }
      return -1;
    }
    case 'VP9': {
      // frame_marker (2 bits), profile_low_bit, profile_high_bit
      const b = keyframe[0]!;
      return ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
    }
    default:
      return null;
  }
}

const PROFILE: Partial<Record<VideoCodec, number>> = {
  H264: 66,
  'H264-444': 244,
  VP9: 0,
  'VP9-444': 1,
};

const DEPACKETIZER: Record<RtpCodec, DepacketizerCodec> = {
  H264: 'MPEG4/ISO/AVC',
  VP8: 'VP8',
  VP9: 'VP9',
  AV1: 'AV1',
};

describe.each(VIDEO_CODECS)('%s from a real pipeline', (codec) => {
  it('is whole frames of RTP, opens with a keyframe and makes one when asked', async () => {
    const FPS = 30;
    const packets: RtpPacket[] = [];
    // each packet's capture time (capture-time.ts) and when it arrived here
    const stamps: { capturedAtMs: number | undefined; receivedAtMs: number }[] = [];
    let askedAt = 0;
    const pipeline = await startPipeline({
      source: 'bare',
      display: '',
      width: 320,
      height: 240,
      fps: FPS,
      codec,
      h264Encoder: 'x264enc',
      kbps: 800,
      python: '/usr/bin/python3',
      onRtp: (packet, capturedAtMs) => {
        packets.push(RtpPacket.deSerialize(packet));
        stamps.push({ capturedAtMs, receivedAtMs: Date.now() });
      },
    });
    try {
      await new Promise((r) => setTimeout(r, 1500));
      pipeline.setBitrate(400);
      askedAt = packets.length;
      pipeline.keyframe();
      await new Promise((r) => setTimeout(r, 1000));
    } finally {
      await pipeline.stop();
    }

    // Frames end at the marker bit; a frame cut short by the stop is left out.
    const frames: { packets: RtpPacket[]; firstIndex: number }[] = [];
    let current: RtpPacket[] = [];
    packets.forEach((p, i) => {
      current.push(p);
      if (!p.header.marker) return;
      frames.push({ packets: current, firstIndex: i - current.length + 1 });
      current = [];
    });
    expect(frames.length).toBeGreaterThan(FPS); // 2.5 s at 30 fps, less a start-up on a busy machine
    for (const p of packets) expect(p.serialize().length).toBeLessThanOrEqual(1200);
    const decoded = frames.map((f) => {
      expect(new Set(f.packets.map((p) => p.header.timestamp)).size).toBe(1);
      return dePacketizeRtpPackets(DEPACKETIZER[rtpCodec(codec)], f.packets);
    });
    for (const d of decoded) expect(d.data.length).toBeGreaterThan(0);
    expect(decoded[0]!.isKeyframe).toBe(true);
    expect(declaredProfile(codec, decoded[0]!.data)).toBe(PROFILE[codec] ?? null);
    // The regular keyframe comes every 4 s (fps × 4 frames): one within the second after the
    // request, past the first frame, is the requested one.
    const afterAsk = frames.findIndex((f) => f.firstIndex >= askedAt);
    expect(afterAsk).toBeGreaterThan(0);
    expect(decoded.slice(afterAsk).some((d) => d.isKeyframe)).toBe(true);
    expect(decoded.slice(1, afterAsk).some((d) => d.isKeyframe)).toBe(false);

    // Every packet carries its frame's capture time: one per frame, frames a frame interval
    // apart, each before the packet arrived and not long before (the bare source paints and
    // encodes 320×240 in a few ms; 500 ms allows a loaded machine).
    const frameCaptures = frames.map((f) => {
      const times = new Set(f.packets.map((_, i) => stamps[f.firstIndex + i]!.capturedAtMs));
      expect(times.size).toBe(1);
      return [...times][0]!;
    });
    frames.forEach((f, i) => {
      const received = stamps[f.firstIndex]!.receivedAtMs;
      expect(frameCaptures[i]).toBeLessThanOrEqual(received + 1);
      expect(frameCaptures[i]).toBeGreaterThan(received - 500);
    });
    const gaps = frameCaptures.slice(1).map((t, i) => t - frameCaptures[i]!);
    const medianGap = gaps.sort((a, b) => a - b)[gaps.length >> 1]!;
    expect(Math.abs(medianGap - 1000 / FPS)).toBeLessThan(5);
  }, 20_000);
});
