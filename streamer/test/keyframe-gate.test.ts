// The sender's hold after a sudden drop of the link (congestion/keyframe-gate.ts): what it
// lets through, and how it finds a keyframe's first packet in each codec's RTP payloads, made
// by werift's packetizers and by the real pipeline (GStreamer's payloaders, werift's for AV1).
import { describe, expect, it } from 'vitest';
import { Av1Packetizer, RtpPacket, Vp8Packetizer, Vp9Packetizer } from 'werift';
import { KeyframeGate, keyframeStart } from '../src/congestion/keyframe-gate.ts';
import { startPipeline } from '../src/pipeline.ts';
import { VIDEO_CODECS } from '../src/protocol.ts';

const DELTA = Buffer.from([0x41, 0x9a, 0x00]); // H.264 non-IDR slice
const SPS = Buffer.from([0x67, 0x42, 0xc0, 0x1f]); // what rtph264pay sends first (config-interval=-1)
const IDR = Buffer.from([0x65, 0x88, 0x80]);

function gate() {
  const asked: number[] = [];
  let now = 0;
  const g = new KeyframeGate(keyframeStart('H264'), () => asked.push(now));
  const send = (payload: Buffer, timestamp: number, at: number) => {
    now = at;
    return g.pass(payload, timestamp, at);
  };
  return { g, asked, send };
}

describe('the keyframe gate', () => {
  it('passes everything until a step', () => {
    const { g, asked, send } = gate();
    expect(send(DELTA, 1, 0)).toBe(true);
    expect(send(DELTA, 2, 33)).toBe(true);
    expect(g.open).toBe(true);
    expect(asked).toEqual([]);
  });

  it('holds the video, then asks for a keyframe once and sends from its first packet on', () => {
    const { g, asked, send } = gate();
    g.hold(100, 100);
    expect(g.open).toBe(false);
    expect(send(DELTA, 10, 120)).toBe(false); // held: nothing asked yet
    expect(asked).toEqual([]);
    expect(send(DELTA, 11, 210)).toBe(false); // the hold is over: asked, a delta still dropped
    expect(asked).toEqual([210]);
    expect(send(IDR, 11, 215)).toBe(false); // a keyframe's packet in the middle of a frame
    expect(send(SPS, 12, 240)).toBe(true); // a frame that starts with the parameter sets
    expect(send(IDR, 12, 241)).toBe(true);
    expect(send(DELTA, 13, 273)).toBe(true);
    expect(g.open).toBe(true);
    expect(asked).toEqual([210]);
  });

  it('asks again while no keyframe comes, and opens after 3 s whatever comes', () => {
    const { g, asked, send } = gate();
    g.hold(0, 100);
    for (let t = 100; t < 3000; t += 33) expect(send(DELTA, t, t)).toBe(false);
    // the encoder's keyframes are rate-limited (broadcast.ts): one request may be dropped
    expect(asked.length).toBeGreaterThanOrEqual(9);
    expect(asked[1]! - asked[0]!).toBeGreaterThanOrEqual(300);
    expect(send(DELTA, 3100, 3100)).toBe(true);
    expect(g.open).toBe(true);
  });

  it('starts a new hold over an unfinished one', () => {
    const { g, send } = gate();
    g.hold(0, 100);
    expect(send(DELTA, 1, 150)).toBe(false); // waiting for a keyframe
    g.hold(160, 100);
    expect(send(SPS, 2, 200)).toBe(false); // held again: even a keyframe waits
    expect(send(SPS, 3, 270)).toBe(true);
  });
});

describe('the first packet of a keyframe', () => {
  it('in H.264 as rtph264pay sends it: parameter sets, alone or aggregated, or an IDR', () => {
    const starts = keyframeStart('H264');
    expect(starts(SPS)).toBe(true);
    expect(starts(IDR)).toBe(true);
    expect(starts(DELTA)).toBe(false);
    expect(starts(Buffer.from([0x68, 0xce, 0x3c, 0x80]))).toBe(false); // PPS: after the SPS
    // STAP-A: SPS and PPS together
    const stap = Buffer.from([0x78, 0x00, 0x04, ...SPS, 0x00, 0x04, 0x68, 0xce, 0x3c, 0x80]);
    expect(starts(stap)).toBe(true);
    // FU-A: the first fragment of an IDR slice starts one, the next does not
    expect(starts(Buffer.from([0x7c, 0x85, 0x88]))).toBe(true);
    expect(starts(Buffer.from([0x7c, 0x05, 0x88]))).toBe(false);
    expect(starts(Buffer.from([0x7c, 0x81, 0x9a]))).toBe(false); // a non-IDR slice's first
  });

  // A VP8 keyframe's first bytes (RFC 6386 §9.1): frame tag with P = 0, the start code, size
  const VP8_KEY = Buffer.from([0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]);
  const VP8_DELTA = Buffer.from([0x31, 0x08, 0x00, 0x11, 0x22, 0x33]);

  it.each([
    ['VP8', (key: boolean) => new Vp8Packetizer().packetize(key ? VP8_KEY : VP8_DELTA, 0)],
    [
      'VP9',
      (key: boolean) =>
        new Vp9Packetizer({ maxPayloadSize: 8 }).packetize(Buffer.alloc(20, 1), 0, {
          isKeyframe: key,
        }),
    ],
    [
      'AV1',
      (key: boolean) =>
        new Av1Packetizer({ maxPayloadSize: 1188 }).packetize(
          // a temporal unit: a temporal delimiter, a sequence header (libaom writes one
          // before each keyframe: that is what N says) and a frame, each with its size
          Buffer.from([0x12, 0x00, 0x0a, 0x02, 0x00, 0x00, 0x32, 0x03, 0x10, 0x00, 0x00]),
          0,
          { isKeyframe: key },
        ),
    ],
  ] as const)('in %s, from its descriptor', (codec, packetize) => {
    const starts = keyframeStart(codec);
    const key = packetize(true).map((p) => p.payload);
    const delta = packetize(false).map((p) => p.payload);
    expect(starts(key[0]!)).toBe(true);
    expect(delta.some((p) => starts(p))).toBe(false);
    for (const p of key.slice(1)) expect(starts(p)).toBe(false);
  });
});

describe.each(VIDEO_CODECS)(
  'the first packet of a keyframe in what the pipeline sends: %s',
  (codec) => {
    it('is found at the first frame and at the one asked for, and nowhere between', async () => {
      const packets: Buffer[] = [];
      const pipeline = await startPipeline({
        source: 'bare',
        display: '',
        width: 320,
        height: 240,
        fps: 30,
        codec,
        h264Encoder: 'x264enc',
        kbps: 500,
        python: '/usr/bin/python3',
        onRtp: (packet) => packets.push(packet),
      });
      const frames = () => new Set(packets.map((p) => RtpPacket.deSerialize(p).header.timestamp));
      let asked = 0;
      try {
        await expect.poll(() => frames().size, { timeout: 20_000 }).toBeGreaterThan(15);
        pipeline.keyframe();
        asked = frames().size;
        // well within the encoder's own interval of 4 s
        await expect.poll(() => frames().size, { timeout: 20_000 }).toBeGreaterThan(asked + 15);
      } finally {
        await pipeline.stop();
      }
      const starts = keyframeStart(codec);
      let last: number | undefined;
      let frame = 0;
      const keyframes: number[] = [];
      for (const raw of packets) {
        const rtp = RtpPacket.deSerialize(raw);
        if (rtp.header.timestamp === last) continue;
        last = rtp.header.timestamp;
        frame++;
        if (starts(rtp.payload)) keyframes.push(frame);
      }
      expect(keyframes[0]).toBe(1);
      // then the one asked for (av1enc makes two in a row), and none between
      const after = keyframes.slice(1);
      expect(after.length).toBeGreaterThanOrEqual(1);
      expect(after[0]).toBeGreaterThan(asked);
      expect(after.at(-1)! - after[0]!).toBeLessThanOrEqual(1);
    }, 60_000);
  },
);
