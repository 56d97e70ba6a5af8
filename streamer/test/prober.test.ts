// The prober (congestion/prober.ts): padding on the video stream for the estimator's probes.
// Media is renumbered past the padding, padding goes only between frames, paced at the
// probe's rate, and each padding packet is reported to congestion control with its probe.
import { afterEach, describe, expect, it } from 'vitest';
import { RtpHeader, type RtpPacket } from 'werift';
import { Prober } from '../src/congestion/prober.ts';

const header = (seq: number, marker: boolean, timestamp = 9000) =>
  new RtpHeader({ payloadType: 96, sequenceNumber: seq, timestamp, marker, ssrc: 1 });

describe('the prober', () => {
  let now = 0;
  let transportSeq = 100;
  const sent: RtpPacket[] = [];
  const reported: [number, number, number][] = [];
  const prober = new Prober(
    (packet) => {
      sent.push(packet);
      return ++transportSeq;
    },
    (seq, bytes, probe) => reported.push([seq, bytes, probe]),
    () => now,
  );
  afterEach(() => prober.close());

  it('sends padding between frames only, paced, and renumbers the media after it', () => {
    // a frame of two packets: the first leaves the prober mid-frame
    const a = header(500, false);
    prober.media(a);
    expect(a.sequenceNumber).toBe(500);
    // 6000 bytes at 1,000 kbit/s: 19 packets of 255 bytes of padding (327 on the wire), one
    // every 2.6 ms
    prober.probe({ id: 7, rateKbps: 1000, bytes: 6000 });
    expect(sent).toHaveLength(0); // mid-frame: nothing yet
    const b = header(501, true);
    prober.media(b);
    expect(b.sequenceNumber).toBe(501);
    now = 10; // the frame has ended: what is due by now goes
    (prober as unknown as { pace(): void }).pace();
    const first = sent.length;
    expect(first).toBe(4); // due at 0, 2.6, 5.2 and 7.8 ms
    for (const [i, p] of sent.entries()) {
      expect(p.header.sequenceNumber).toBe(502 + i);
      expect(p.header.timestamp).toBe(9000); // the last frame's
      expect(p.header.padding).toBe(true);
      expect(p.payload).toHaveLength(255);
      expect(p.payload[254]).toBe(255); // all of it padding
    }
    expect(reported.map(([, , probe]) => probe)).toEqual(Array(first).fill(7));
    expect(reported[0]![0]).toBe(101);
    // the next frame's packets come after the padding
    const c = header(502, true, 12_000);
    prober.media(c);
    expect(c.sequenceNumber).toBe(502 + first);
    // the rest, once due
    now = 100;
    (prober as unknown as { pace(): void }).pace();
    expect(sent).toHaveLength(19);
    const d = header(503, true, 15_000);
    prober.media(d);
    expect(d.sequenceNumber).toBe(503 + sent.length);
  });
});
