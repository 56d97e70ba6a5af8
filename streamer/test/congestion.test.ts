// The send-side estimator (congestion/): its TWCC reading, on a simulated bottleneck, and on
// feedback recorded from real runs of bench/network.ts (fixtures/cc-*.jsonl.gz: each line
// [nowMs, [[sendMs, bytes, arrivalMs | null], …]], cut from `--trace-out` files).
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  GenericNack,
  type RTCRtpSender,
  RtcpTransportLayerFeedback,
  RtpHeader,
  RtpPacket,
} from 'werift';
import {
  type PacketFeedback,
  type ProbeRequest,
  SendSideEstimator,
  slope,
} from '../src/congestion/estimator.ts';
import { limitRetransmissions, RetransmitBudget } from '../src/congestion/retransmit-budget.ts';
import { twccPacketResults } from '../src/congestion/twcc.ts';
import { outageEnded, TwccSender } from '../src/congestion/twcc-sender.ts';

const BOUNDS = { startKbps: 4000, minKbps: 200, maxKbps: 12_000 };

describe('transport-wide feedback', () => {
  it('reads run-length and status-vector chunks, lost packets and µs deltas', () => {
    const results = twccPacketResults({
      baseSequenceNumber: 65_534,
      packetStatusCount: 6,
      referenceTime: 10, // 640 ms
      fbPktCount: 0,
      packetChunks: [
        { packetStatus: 1, runLength: 2 }, // two received, small deltas
        { symbolList: [0, 2, 1, 0, 0, 0, 0] }, // lost, large delta, small delta, padding
      ],
      recvDeltas: [{ delta: 250 }, { delta: 1250 }, { delta: -500 }, { delta: 750 }],
    });
    expect(results).toEqual([
      { seq: 65_534, arrivalMs: 640.25 },
      { seq: 65_535, arrivalMs: 641.5 },
      { seq: 0, arrivalMs: null },
      { seq: 1, arrivalMs: 641 },
      { seq: 2, arrivalMs: 641.75 },
      { seq: 3, arrivalMs: null },
    ]);
  });

  it('matches feedback to the packets sent and reports a changed target', () => {
    const targets: number[] = [];
    let outages = 0;
    const sender = new TwccSender(BOUNDS, {
      target: (kbps) => targets.push(kbps),
      keyframeNeeded: () => outages++,
    });
    for (let seq = 0; seq < 80; seq++) sender.packetSent(seq, 1200, seq);
    expect(sender.targetKbps(0)).toBeNull(); // no feedback yet: REMB decides
    // every packet lost: a loss-based cut
    sender.feedback(
      {
        baseSequenceNumber: 0,
        packetStatusCount: 80,
        referenceTime: 0,
        fbPktCount: 0,
        packetChunks: [{ packetStatus: 0, runLength: 80 }],
        recvDeltas: [],
      },
      100,
    );
    expect(targets).toEqual([2000]);
    expect(outages).toBe(1); // the first feedback, all lost, after none at all
    expect(sender.targetKbps(100)).toBe(2000);
    expect(sender.targetKbps(100 + 5000)).toBeNull(); // stale: the browser stopped sending it
  });

  it.each([
    [3000, 0.95, true],
    [1200, 0.5, true],
    [800, 1, false], // feedback a little late: no outage
    [3000, 0.2, false], // silence, then little lost: the browser paused, the path did not
  ])('after %d ms without feedback and %d lost, outage ended: %s', (silent, lost, ended) => {
    expect(outageEnded(silent, lost)).toBe(ended);
  });

  it('asks for a keyframe once the loss of an overflowing queue has ended, not during it', () => {
    let keyframes = 0;
    const sender = new TwccSender(BOUNDS, { target: () => {}, keyframeNeeded: () => keyframes++ });
    const feedback = (from: number, statuses: number[]) => {
      for (let i = 0; i < statuses.length; i++) sender.packetSent(from + i, 1200, from + i);
      sender.feedback(
        {
          baseSequenceNumber: from,
          packetStatusCount: statuses.length,
          referenceTime: 0,
          fbPktCount: 0,
          packetChunks: statuses.map((status) => ({ packetStatus: status, runLength: 1 })),
          recvDeltas: statuses.filter((st) => st === 1).map(() => ({ delta: 1000 })),
        },
        from + 20,
      );
    };
    feedback(0, Array(30).fill(1)); // clean
    expect(keyframes).toBe(0);
    feedback(30, [...Array(25).fill(0), ...Array(5).fill(1)]); // the queue overflows
    feedback(60, [...Array(20).fill(0), ...Array(10).fill(1)]);
    expect(keyframes).toBe(0);
    feedback(90, Array(30).fill(1)); // the loss ended
    expect(keyframes).toBe(1);
    feedback(120, Array(30).fill(1));
    expect(keyframes).toBe(1);
  });

  it('probes its way back after an outage, whatever the loss of the silence cut to', () => {
    const probes: number[] = [];
    let keyframes = 0;
    const sender = new TwccSender(BOUNDS, {
      target: () => {},
      keyframeNeeded: () => keyframes++,
      probe: (p) => probes.push(p.rateKbps),
    });
    let seq = 0;
    const feedback = (at: number, statuses: number[]) => {
      const from = seq;
      for (const _ of statuses) sender.packetSent(seq++, 1200, at - 30);
      sender.feedback(
        {
          baseSequenceNumber: from,
          packetStatusCount: statuses.length,
          referenceTime: Math.floor(at / 64),
          fbPktCount: 0,
          packetChunks: statuses.map((status) => ({ packetStatus: status, runLength: 1 })),
          recvDeltas: statuses.filter((st) => st === 1).map(() => ({ delta: 0 })),
        },
        at,
      );
    };
    for (let t = 0; t < 3000; t += 50) feedback(t, Array(20).fill(1));
    const before = sender.targetKbps(3000)!;
    expect(probes).toEqual([]); // a steady link: no probing
    // 3 s of silence, then feedback that lost most of what was sent meanwhile
    feedback(6000, [...Array(60).fill(0), ...Array(20).fill(1)]);
    expect(keyframes).toBe(1);
    expect(sender.targetKbps(6000)!).toBeLessThan(before);
    for (let t = 6050; t < 7000; t += 50) feedback(t, Array(20).fill(1));
    expect(probes.length).toBeGreaterThan(0);
  });

  /** Three seconds of clean feedback, 20 ms one way; answers the time after them. */
  const settle = (est: SendSideEstimator) => {
    let t = 0;
    for (let i = 0; i < 30; i++) {
      const packets: PacketFeedback[] = [];
      for (let k = 0; k < 10; k++) {
        const sendMs = t + k * 3.2;
        packets.push({ sendMs, size: 1200, arrivalMs: sendMs + 20 });
      }
      t += 100;
      est.onFeedback(packets, t);
    }
    return t;
  };

  it('takes the arrival rate of a long probe the link could not carry as its capacity', () => {
    const est = new SendSideEstimator(BOUNDS);
    let t = settle(est);
    const start = est.targetKbps;
    // an outage ended: the rate before it was higher than the target now
    est.probeBackTo(1.6 * start);
    t += 600;
    const probe = est.nextProbe(t);
    expect(probe).not.toBeNull();
    expect(probe!.bytes).toBeGreaterThanOrEqual(12_000);
    // the link carries 1.3 × the target: the padding queues, and arrives at that rate
    const capacity = 1.3 * start;
    const count = Math.ceil(probe!.bytes / 327);
    const packets: PacketFeedback[] = [];
    for (let i = 0; i < count; i++) {
      const sendMs = t + (i * 327 * 8) / probe!.rateKbps;
      const arrivalMs = t + 20 + (i * 327 * 8) / capacity;
      packets.push({ sendMs, size: 327, arrivalMs, probe: probe!.id });
    }
    const last = packets.at(-1)!;
    // media sent after the probe's last packet says the probe is all reported
    packets.push({ sendMs: last.sendMs + 1, size: 1200, arrivalMs: last.arrivalMs! + 2 });
    est.onFeedback(packets, last.arrivalMs! + 50);
    expect(est.targetKbps).toBeGreaterThan(1.1 * start);
    expect(est.targetKbps).toBeLessThan(1.25 * start); // 0.9 × what arrived, not the probe's rate
  });

  it('comes down to what a chained probe met when a burst carried the first whole', () => {
    const est = new SendSideEstimator(BOUNDS);
    let t = settle(est);
    const start = est.targetKbps;
    est.probeBackTo(8 * start);
    t += 600;
    // the link carries 1.5 × the target, with a burst that lets a small probe through whole
    const capacity = 1.5 * start;
    const send = (probe: ProbeRequest, arrivalRateKbps: number) => {
      const count = Math.ceil(probe.bytes / 327);
      const packets: PacketFeedback[] = [];
      for (let i = 0; i < count; i++) {
        const sendMs = t + (i * 327 * 8) / probe.rateKbps;
        const arrivalMs = t + 20 + (i * 327 * 8) / arrivalRateKbps;
        packets.push({ sendMs, size: 327, arrivalMs, probe: probe.id });
      }
      const last = packets.at(-1)!;
      packets.push({ sendMs: last.sendMs + 1, size: 1200, arrivalMs: last.arrivalMs! + 2 });
      t = last.arrivalMs! + 50;
      est.onFeedback(packets, t);
    };
    const first = est.nextProbe(t)!;
    send(first, first.rateKbps); // arrived as sent: carried
    const raised = est.targetKbps;
    expect(raised).toBeGreaterThan(2 * start);
    const chained = est.nextProbe(t);
    expect(chained).not.toBeNull();
    send(chained!, capacity); // queued: it met the link
    expect(est.targetKbps).toBeLessThan(raised);
    expect(est.targetKbps).toBeLessThanOrEqual(0.9 * capacity * 1.05);
    expect(est.targetKbps).toBeGreaterThanOrEqual(start);
  });

  it('judges a probe only once all of it is reported, not at a frame sent in its middle', () => {
    const est = new SendSideEstimator(BOUNDS);
    let t = settle(est);
    const start = est.targetKbps;
    est.probeBackTo(8 * start);
    t += 600;
    const probe = est.nextProbe(t)!;
    const count = Math.ceil(probe.bytes / 327);
    const half = Math.floor(count / 2);
    const gap = (327 * 8) / probe.rateKbps;
    // the first half goes through a shaper's burst as sent; a frame is sent after it
    const first: PacketFeedback[] = [];
    for (let i = 0; i < half; i++)
      first.push({ sendMs: t + i * gap, size: 327, arrivalMs: t + 20 + i * gap, probe: probe.id });
    const frameAt = t + half * gap;
    first.push({ sendMs: frameAt, size: 1200, arrivalMs: frameAt + 20 });
    est.onFeedback(first, frameAt + 25);
    expect(est.targetKbps).toBeLessThan(1.2 * start); // not judged on half of it
    // the rest queues behind the burst: the link carries no more than the target
    const rest: PacketFeedback[] = [];
    const linkGap = (327 * 8) / start;
    for (let i = half; i < count; i++)
      rest.push({
        sendMs: t + i * gap + 0.1,
        size: 327,
        arrivalMs: frameAt + 20 + (i - half + 1) * linkGap,
        probe: probe.id,
      });
    const last = rest.at(-1)!;
    rest.push({ sendMs: last.sendMs + 1, size: 1200, arrivalMs: last.arrivalMs! + 2 });
    est.onFeedback(rest, last.arrivalMs! + 50);
    expect(est.targetKbps).toBeLessThan(1.2 * start);
  });

  it('fits a least-squares slope', () => {
    expect(
      slope([
        { x: 0, y: 1 },
        { x: 1, y: 3 },
        { x: 2, y: 5 },
      ]),
    ).toBe(2);
    expect(
      slope([
        { x: 1, y: 1 },
        { x: 1, y: 2 },
      ]),
    ).toBeNull();
  });
});

/**
 * A closed loop: the sender sends what the estimator says as 30 fps frames of 1200-byte
 * packets into a bottleneck of `capacity(t)` shaped as tbf shapes it (a token bucket of
 * `burstBytes`, a 200 ms queue, tail drop), 20 ms each way; the receiver sends feedback every
 * 50 ms; the estimator's probes go as 327-byte padding packets paced at their rate (as
 * prober.ts sends them).
 */
function simulate(capacityKbps: (t: number) => number, seconds: number, burstBytes = 1200) {
  const est = new SendSideEstimator(BOUNDS);
  const inFlight: (PacketFeedback & { reportAt: number })[] = [];
  const padding: { at: number; probe: number }[] = [];
  let linkFree = 0;
  let tokens = burstBytes;
  const timeline: { t: number; target: number; queueMs: number; lost: number; stepAt: number }[] =
    [];
  let queueMs = 0;
  let lost = 0;
  const transmit = (t: number, size: number, probe?: number) => {
    const bytesPerMs = capacityKbps(t) / 8;
    const start = Math.max(t, linkFree);
    const ready = Math.min(burstBytes, tokens + (start - linkFree) * bytesPerMs);
    const leaves = ready >= size ? start : start + (size - ready) / bytesPerMs;
    if (leaves - t > 200) {
      lost++;
      inFlight.push({ sendMs: t, size, arrivalMs: null, reportAt: t + 20, probe });
      return;
    }
    tokens = ready + (leaves - start) * bytesPerMs - size;
    linkFree = leaves;
    inFlight.push({ sendMs: t, size, arrivalMs: leaves + 20, reportAt: leaves + 20, probe });
  };
  for (let t = 0; t < seconds * 1000; t += 1) {
    if (t % 33 === 0) {
      // the queue a frame meets (its last packet waits for the frame's own burst too)
      queueMs = Math.max(0, linkFree - t);
      let bytes = Math.round((est.targetKbps * 33) / 8);
      while (bytes > 0) {
        const size = Math.min(1200, bytes);
        bytes -= size;
        transmit(t, size);
      }
    }
    while (padding.length > 0 && padding[0]!.at <= t) transmit(t, 327, padding.shift()!.probe);
    if (t % 50 === 0) {
      // the feedback the receiver sent 20 ms ago: what had arrived (or was missed) by then
      const due = inFlight.filter((p) => p.reportAt <= t - 20);
      if (due.length > 0) {
        for (const p of due) inFlight.splice(inFlight.indexOf(p), 1);
        est.onFeedback(due, t);
        const probe = est.nextProbe(t);
        if (probe) {
          const count = Math.max(5, Math.ceil(probe.bytes / 327));
          for (let i = 0; i < count; i++)
            padding.push({ at: t + (i * 327 * 8) / probe.rateKbps, probe: probe.id });
        }
      }
      timeline.push({ t, target: est.targetKbps, queueMs, lost, stepAt: est.stepAtMs });
    }
  }
  return timeline;
}

const between = (tl: ReturnType<typeof simulate>, from: number, to: number) =>
  tl.filter((s) => s.t >= from && s.t < to);

describe('the estimator on a simulated bottleneck', () => {
  it('settles near a clean 5 Mbit/s link without a standing queue', () => {
    const tl = simulate(() => 5000, 20);
    const settled = between(tl, 5000, 20_000);
    expect(Math.min(...settled.map((s) => s.target))).toBeGreaterThan(2500);
    expect(Math.max(...settled.map((s) => s.target))).toBeLessThan(7000);
    const queues = settled.map((s) => s.queueMs).sort((a, b) => a - b);
    expect(queues[Math.floor(queues.length / 2)]).toBeLessThan(50);
    // a clean link's frames never read as a sudden drop (trainKbps)
    expect(tl.at(-1)!.stepAt).toBe(Number.NEGATIVE_INFINITY);
  });

  it('follows a 5 → 0.5 Mbit/s step down at once and comes back when it lifts', () => {
    // with a shaper's burst, as tbf has in bench/network.ts: probes must not read it as room
    const tl = simulate((t) => (t >= 10_000 && t < 20_000 ? 500 : 5000), 30, 3200);
    const before = between(tl, 7000, 10_000);
    const beforeMean = before.reduce((s, x) => s + x.target, 0) / before.length;
    // under the new capacity within a second
    const cutAt = tl.find((s) => s.t >= 10_000 && s.target < 500)?.t;
    expect(cutAt).toBeDefined();
    // at the first feedback that shows it: the frame crossing the narrowed link (trainKbps),
    // read as a sudden drop (the sender then holds its video until a keyframe)
    expect(cutAt! - 10_000).toBeLessThan(250);
    expect(tl.find((s) => s.t === cutAt)!.stepAt).toBe(cutAt);
    // so the step's own overflow is short: a few frames, not half a second of them
    const lostBy = (t: number) => tl.find((s) => s.t >= t)!.lost;
    expect(lostBy(11_000) - lostBy(9_000)).toBeLessThan(80);
    // while it lasts, the queue stays short most of the time (no standing 200 ms queue)
    const during = between(tl, 11_000, 20_000)
      .map((s) => s.queueMs)
      .sort((a, b) => a - b);
    expect(during[Math.floor(during.length / 2)]).toBeLessThan(100);
    // once the step's own overflow is over, nothing more is lost while it lasts
    expect(lostBy(20_000) - lostBy(12_000)).toBe(0);
    // back to 90 % of the rate before within 2.5 s of the lift
    const backAt = tl.find((s) => s.t >= 20_000 && s.target >= 0.9 * beforeMean)?.t;
    expect(backAt).toBeDefined();
    expect(backAt! - 20_000).toBeLessThan(2500);
  });
});

function replay(name: string) {
  const lines = gunzipSync(readFileSync(new URL(`fixtures/cc-${name}.jsonl.gz`, import.meta.url)))
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as [number, [number, number, number | null][]]);
  const est = new SendSideEstimator(BOUNDS);
  return lines.map(([now, packets]) => {
    const fb = packets.map(([sendMs, size, arrivalMs]) => ({ sendMs, size, arrivalMs }));
    const lost = fb.filter((p) => p.arrivalMs === null).length / fb.length;
    return { now, lost, target: est.onFeedback(fb, now), stepAt: est.stepAtMs };
  });
}

describe('the estimator on recorded feedback', () => {
  it('cuts under 0.5 Mbit/s at a real 5 → 0.5 Mbit/s step before the browser reports its loss', () => {
    const steps = replay('step');
    // the browser reports the overflow's loss a queue late: the first feedback losing most
    const hit = steps.find((s) => s.lost > 0.5 && steps.indexOf(s) > 5)!;
    expect(hit).toBeDefined();
    // the frames crossing the narrowed link said so sooner (trainKbps)
    const cut = steps.find((s) => s.target < 500)!;
    expect(cut).toBeDefined();
    expect(cut.now).toBeLessThan(hit.now);
    expect(cut.now).toBeGreaterThan(hit.now - 400);
    // and nothing on the clean link before read as a step
    const before = steps.filter((s, i) => i > 5 && s.now < cut.now);
    expect(Math.min(...before.map((s) => s.target))).toBeGreaterThan(3000);
  });

  it('never reads a real path of 100 ms RTT and ±20 ms jitter as a sudden drop', () => {
    // 8 s from the delay scenario: 2 clean, then the delay line on (the queue then reads
    // 45–100 ms over the clean path's floor for seconds)
    const steps = replay('jitter');
    expect(steps.length).toBeGreaterThan(100);
    expect(steps.at(-1)!.stepAt).toBe(Number.NEGATIVE_INFINITY);
    expect(Math.min(...steps.slice(5).map((s) => s.target))).toBeGreaterThan(2000);
  });

  it('reads a real 3 s outage as loss, cutting without falling to the floor', () => {
    // Open loop: the recorded sender followed the targets of its own run, so a climb back is
    // not replayable here (the simulated bottleneck above covers it).
    const steps = replay('outage');
    const outage = steps.find((s) => s.lost > 0.9)!;
    expect(outage).toBeDefined();
    const before = steps[steps.indexOf(outage) - 1]!.target;
    const after = steps.filter((s) => s.now >= outage.now && s.now < outage.now + 1000);
    const low = Math.min(...after.map((s) => s.target));
    expect(low).toBeLessThan(0.6 * before);
    expect(low).toBeGreaterThan(2 * BOUNDS.minKbps);
  });
});

describe('the retransmission budget', () => {
  const size = () => 1000;

  it('resends within a quarter of the target, oldest first', () => {
    const budget = new RetransmitBudget();
    const lost = Array.from({ length: 100 }, (_, i) => i);
    // 800 kbit/s: a quarter is 25 bytes a ms, 2500 bytes in the 100 ms bucket
    expect(budget.pick(lost, 0, 800, size)).toEqual([0, 1]);
    // 40 ms later: 1000 more bytes (with the 500 left over): one more packet
    expect(budget.pick(lost.slice(2), 40, 800, size)).toEqual([2]);
  });

  it('resends a packet at most once per 100 ms and skips what is no longer in history', () => {
    const budget = new RetransmitBudget();
    expect(budget.pick([7], 0, 40_000, size)).toEqual([7]);
    expect(budget.pick([7], 50, 40_000, size)).toEqual([]);
    expect(budget.pick([7], 150, 40_000, size)).toEqual([7]);
    expect(budget.pick([8, 9], 300, 40_000, (seq) => (seq === 8 ? undefined : 1000))).toEqual([9]);
  });
});

describe('retransmissions under congestion control', () => {
  // werift's sender as far as limitRetransmissions touches it: its history of 128 packets,
  // the transport it sends through, and its NACK handler, recording what reaches it
  function fakeSender(rtx: boolean) {
    const sent: RtpPacket[] = [];
    const nacked: number[][] = [];
    const cache: (RtpPacket | undefined)[] = [];
    for (let seq = 1000; seq < 1010; seq++) {
      cache[seq % 128] = new RtpPacket(
        new RtpHeader({
          payloadType: 96,
          sequenceNumber: seq,
          timestamp: 90_000,
          ssrc: 1234,
          extensions: [{ id: 3, payload: Buffer.from([0, seq - 1000]) }], // its first TWCC seq
        }),
        Buffer.alloc(1000, seq & 0xff),
      );
    }
    const sender = {
      rtpCache: cache,
      rtxPayloadType: rtx ? 97 : undefined,
      rtxSequenceNumber: 500,
      rtxSsrc: 5678,
      retransmittedPacketsSent: 0,
      retransmittedBytesSent: 0,
      headerBytesSent: 0,
      dtlsTransport: {
        transportSequenceNumber: 40,
        sendRtp: async (payload: Buffer, header: RtpHeader) => {
          sent.push(new RtpPacket(header, payload));
          return payload.length;
        },
      },
      handleRtcpPacket(packet: RtcpTransportLayerFeedback) {
        nacked.push([...(packet.feedback as GenericNack).lost]);
      },
    };
    return { sender, sent, nacked, cache };
  }
  const nack = (lost: number[]) =>
    new RtcpTransportLayerFeedback({
      feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 1234, lost }),
    });
  const twccSeq = (p: RtpPacket) =>
    p.header.extensions.find((e) => e.id === 3)!.payload.readUInt16BE(0);

  it.each([false, true])(
    'resends under a new transport-wide sequence number, reported as sent now (RTX %s)',
    (rtx) => {
      const { sender, sent, nacked, cache } = fakeSender(rtx);
      const reported: [number, number][] = [];
      limitRetransmissions(sender as unknown as RTCRtpSender, {
        targetKbps: () => 40_000,
        transportCcId: 3,
        sent: (seq, bytes) => reported.push([seq, bytes]),
      });
      sender.handleRtcpPacket(nack([1002, 1005, 1200]));
      expect(sent.map(twccSeq)).toEqual([41, 42]); // not 2 and 5, their first numbers
      expect(reported.map(([seq]) => seq)).toEqual([41, 42]);
      expect(sender.dtlsTransport.transportSequenceNumber).toBe(42);
      if (rtx) {
        expect(
          sent.map((p) => [p.header.ssrc, p.header.payloadType, p.header.sequenceNumber]),
        ).toEqual([
          [5678, 97, 500],
          [5678, 97, 501],
        ]);
        expect(sent[0]!.payload.readUInt16BE(0)).toBe(1002); // RTX carries the original number
      } else expect(sent.map((p) => p.header.sequenceNumber)).toEqual([1002, 1005]);
      // the history keeps the packets as first sent, for a later NACK
      expect(twccSeq(cache[1002 % 128]!)).toBe(2);
      expect(sender.retransmittedPacketsSent).toBe(2);
      // werift sees the NACK with nothing left for it to resend
      expect(nacked).toEqual([[]]);
    },
  );
});
