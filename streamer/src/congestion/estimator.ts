/**
 * A send-side bandwidth estimator in the manner of Google Congestion Control
 * (draft-ietf-rmcat-gcc-02, and libwebrtc's trendline estimator): pure, driven only by the
 * packets it is told were sent and what the receiver's transport-wide feedback says of them.
 *
 * - Delay: packets sent within 5 ms form a group; the growth of one group's arrival spacing
 *   over its send spacing is queueing delay building up. A least-squares trend over the last
 *   20 groups' smoothed accumulated delay, compared with an adaptive threshold, says
 *   overuse / normal / underuse.
 * - Rate: overuse cuts the target to 0.85 × what the receiver acknowledged over the last
 *   500 ms (the path's real capacity), less the queue already built (one-way delay over its
 *   minimum of the last 10 s, as a fraction of a second): a 200 ms queue then drains within
 *   about half a second instead of the several seconds 0.85 alone takes; normal climbs 8 %
 *   a second; underuse holds while a queue is left to drain.
 * - A sudden drop: a frame whose packets arrive spread over far longer than they were sent,
 *   at under 0.3× the target, behind a queue beyond jitter, crossed a link that narrowed
 *   (trainKbps); the target is cut at once to that rate, less the queue, as above, and the
 *   sender holds its video until a keyframe (keyframe-gate.ts).
 * - Probing: after a deep cut (below half the highest target of the last 2 s: the path
 *   changed) the video stays at the cut rate, and a short probe of padding at 3× the target
 *   asks the path, once a second, whether it came back (as libwebrtc's probe controller
 *   does). A probe that arrives as fast as it was sent raises the target to 0.9× its rate
 *   and is followed at once by one at twice that, until one arrives slower: that one
 *   measured the link, and the target goes to 0.9× what arrived. A link that came back is
 *   found within a second or so. A first probe that arrives slower leaves the target
 *   alone. Climbing the video itself back to find out, as this did before, filled a still
 *   narrow link's queue every second or two, and each overflow froze the picture.
 * - Loss: over 10 % lost (counted over at least 60 packets, so
 *   that 2 % random loss does not read as 10 % in a small window) cuts by half the loss
 *   fraction;
 *   2–10 % holds; less lets the delay side decide (NACK repairs such loss).
 * - Application-limited: when the encoder sends less than half the target (a still screen),
 *   the target does not climb; it would say nothing about the path.
 */

export interface PacketFeedback {
  /** the sender's clock, ms */
  sendMs: number;
  /** bytes on the wire (RTP packet) */
  size: number;
  /** the receiver's clock, ms; null: reported lost */
  arrivalMs: number | null;
  /** the probe (ProbeRequest.id) it was padding of; absent for media */
  probe?: number;
}

/** Padding to send now, paced at `rateKbps`, each packet marked with `id`. */
export interface ProbeRequest {
  id: number;
  rateKbps: number;
  bytes: number;
}

export interface EstimatorOptions {
  startKbps: number;
  minKbps: number;
  maxKbps: number;
}

export type BandwidthUsage = 'normal' | 'overusing' | 'underusing';

const GROUP_MS = 5;
const WINDOW = 20;
const SMOOTHING = 0.9;
const THRESHOLD_GAIN = 4;
const OVERUSE_TIME_MS = 10;
const K_UP = 0.0087;
const K_DOWN = 0.039;
const ACKED_WINDOW_MS = 500;
const DECREASE_FACTOR = 0.85;
const DECREASE_GAP_MS = 200;
const SLOW_GROWTH_PER_S = 1.08;
const DEEP_CUT = 0.5;
/** a probe's length at its rate, within these sizes (more than a shaper's burst) */
const PROBE_MS = 40;
const PROBE_MIN_BYTES = 6000;
const PROBE_MAX_BYTES = 15_000;
const PROBE_EVERY_MS = 1000;
/** no probe while a cut's queue drains */
const PROBE_AFTER_CUT_MS = 500;
const PROBE_FIRST = 3;
const PROBE_NEXT = 2;
/** media sent this long after a probe started is left out of the delay signal */
const PROBE_SHADOW_MS = 2 * PROBE_MS;
/** a probe not evaluated by then was lost: the next may go */
const PROBE_TIMEOUT_MS = 1000;
/** a probe this long measures the path even when it is not carried (see evaluateProbe) */
const PROBE_MEASURES_BYTES = 12_000;
/** arrived at this share of its send rate or more: the path carries the probe's rate */
const PROBE_CARRIED = 0.9;
const RECENT_MS = 2000;
const EMPTY_QUEUE_MS = 10;
const LOSS_MIN_PACKETS = 60;
const BASE_DELAY_WINDOW_MS = 10_000;
const MIN_DECREASE_FACTOR = 0.5;
const TRAIN_MIN_PACKETS = 4;
const TRAIN_MIN_SPREAD_MS = 40;
const TRAIN_MIN_QUEUE_MS = 60;
/** a frame that arrived at less than this share of the target met a link far narrower */
const TRAIN_STEP = 0.3;

interface Group {
  firstSendMs: number;
  lastSendMs: number;
  lastArrivalMs: number;
  /** its packets that arrived: when, and their bytes */
  arrivals: { atMs: number; size: number }[];
}

/**
 * A frame's packets leave together (no pacer) and cross a bottleneck one after another: when
 * they arrive spread over much longer than they were sent, the spread is the link's, and
 * their bytes over it are its rate. This is seen in the first feedback after a sudden drop,
 * long before the trend of whole groups is (each feedback then reports only the few packets
 * of one frame the link let through) or loss is (the browser reports a packet lost only once
 * a later one arrived, behind the full queue). Read from the frame's latest arrivals: a drop
 * in the middle of a frame lets its first packets through at the rate before. Only over a
 * spread a path's jitter does not make (TRAIN_MIN_SPREAD_MS; the caller also wants a queue
 * beyond jitter, TRAIN_MIN_QUEUE_MS), of packets sent within a quarter of it. kbps, or null.
 */
function trainKbps(g: Group): number | null {
  const arrivals = g.arrivals;
  if (arrivals.length < TRAIN_MIN_PACKETS) return null;
  const times = arrivals.map((a) => a.atMs).sort((a, b) => a - b);
  const last = times.at(-1)!;
  // the latest TRAIN_MIN_PACKETS arrivals, and earlier ones until they span enough
  let first = times.length - TRAIN_MIN_PACKETS;
  while (first > 0 && last - times[first]! < TRAIN_MIN_SPREAD_MS) first--;
  const spread = last - times[first]!;
  if (spread < TRAIN_MIN_SPREAD_MS || g.lastSendMs - g.firstSendMs > spread / 4) return null;
  // the first arrival of the window opens the spread: its bytes crossed before it
  const size = arrivals.reduce((sum, a) => sum + a.size, 0) / arrivals.length;
  return (size * (times.length - 1 - first) * 8) / spread;
}

export class SendSideEstimator {
  private target: number;
  private readonly options: EstimatorOptions;
  // trendline
  private firstArrivalMs: number | null = null;
  private accumulatedDelay = 0;
  private smoothedDelay = 0;
  private points: { x: number; y: number }[] = [];
  private deltas = 0;
  private trend = 0;
  private previousTrend = 0;
  // overuse detector
  private threshold = 12.5;
  private lastThresholdUpdateMs: number | null = null;
  private overusingMs = 0;
  private overuseCount = 0;
  private usage: BandwidthUsage = 'normal';
  // groups
  private current: Group | null = null;
  private previous: Group | null = null;
  // rate control
  private acked: { arrivalMs: number; size: number }[] = [];
  private lastUpdateMs: number | null = null;
  private lastDecreaseMs = Number.NEGATIVE_INFINITY;
  /** When the last cut for a sudden drop of the link (trainKbps) was made, sender's ms. */
  stepAtMs = Number.NEGATIVE_INFINITY;
  /** The target before the last deep cut: where probing may take it back to. */
  private beforeCut: number | null = null;
  private lossPackets = 0;
  private lossLost = 0;
  private sentBytes: { sendMs: number; size: number }[] = [];
  /** the lowest one-way delay (receiver's clock − sender's) of each second, for the base */
  private delayFloor: { atMs: number; delay: number }[] = [];
  private queueMs = 0;
  private recentTargets: { atMs: number; kbps: number }[] = [];
  // probing
  private probe: {
    id: number;
    startedMs: number;
    packets: PacketFeedback[];
    /** media sent since the probe started: the path carried both at once */
    media: PacketFeedback[];
    /** sent at once after a probe the path carried */
    chained: boolean;
    bytes: number;
  } | null = null;
  private probeId = 0;
  private lastProbeMs = Number.NEGATIVE_INFINITY;
  /** the last probe was carried in full: the next goes at once, at twice the rate */
  private probeAgain = false;
  /** the target before the first probe of a chain: a chain's last probe lowers no further */
  private beforeChain = 0;

  constructor(options: EstimatorOptions) {
    this.options = options;
    this.target = options.startKbps;
  }

  get targetKbps(): number {
    return Math.round(this.target);
  }

  /** What the last feedback said, for metrics and the benchmark's trace. */
  get state() {
    return {
      usage: this.usage,
      trend: this.trend,
      threshold: this.threshold,
      ackedKbps: this.ackedKbps(),
      queueMs: this.queueMs,
    };
  }

  /**
   * One feedback message's packets, in transport sequence order, and the sender's time now.
   * Returns the new target, kbps.
   */
  onFeedback(packets: readonly PacketFeedback[], nowMs: number): number {
    let lost = 0;
    let judgedPackets = 0;
    let mediaSentMs = Number.NEGATIVE_INFINITY;
    for (const p of packets) {
      // Padding says nothing of the media's queue or loss: only its probe reads it.
      if (p.probe !== undefined) {
        if (p.probe === this.probe?.id) this.probe.packets.push(p);
        continue;
      }
      mediaSentMs = Math.max(mediaSentMs, p.sendMs);
      if (this.probe && p.sendMs >= this.probe.startedMs) this.probe.media.push(p);
      this.sentBytes.push({ sendMs: p.sendMs, size: p.size });
      // loss of what was sent before the last cut was what the cut answered
      const judged = p.sendMs > this.lastDecreaseMs;
      if (judged) judgedPackets++;
      if (p.arrivalMs === null) {
        if (judged) lost++;
        continue;
      }
      this.acked.push({ arrivalMs: p.arrivalMs, size: p.size });
      // media sent beside a probe meets the queue the probe makes on purpose: not overuse
      const sinceProbe = p.sendMs - this.lastProbeMs;
      if (sinceProbe >= 0 && sinceProbe < PROBE_SHADOW_MS) continue;
      this.addToGroup(p.sendMs, p.arrivalMs, p.size);
      this.trackQueue(p.arrivalMs - p.sendMs, nowMs);
    }
    const newest = this.acked.at(-1)?.arrivalMs ?? 0;
    while (this.acked.length > 0 && this.acked[0]!.arrivalMs < newest - ACKED_WINDOW_MS)
      this.acked.shift();
    while (this.sentBytes.length > 0 && this.sentBytes[0]!.sendMs < nowMs - ACKED_WINDOW_MS)
      this.sentBytes.shift();
    this.lossPackets += judgedPackets;
    this.lossLost += lost;
    this.updateRate(nowMs);
    // The probe is all reported once its bytes are, and the media sent after its last packet
    // (the feedback then covers the media beside it too). Media alone is not enough: the
    // padding is paced over tens of ms between frames, and a frame sent in the middle of it
    // can be reported before the rest of the probe has arrived (its first packets, through
    // a shaper's burst, then looked carried).
    const probe = this.probe;
    if (probe && probe.packets.length > 0) {
      const reported = probe.packets.reduce((sum, p) => sum + p.size, 0);
      const lastSend = Math.max(...probe.packets.map((p) => p.sendMs));
      if (reported >= probe.bytes && mediaSentMs > lastSend) this.evaluateProbe();
    }
    return this.targetKbps;
  }

  /**
   * The path went silent and came back (an outage): what it carries now is unknown, whatever
   * the loss of its silence cut the target to. Probing takes it back towards `kbps`, the
   * target before, as after a deep cut, instead of 8 % a second.
   */
  probeBackTo(kbps: number) {
    if (kbps > this.target) this.beforeCut = Math.max(this.beforeCut ?? 0, kbps);
  }

  /**
   * A probe to send now, or null. Only after a deep cut, while the target is below where it
   * was: once a second, or at once after a probe the path carried in full.
   */
  nextProbe(nowMs: number): ProbeRequest | null {
    const high = this.beforeCut;
    if (high === null || this.target >= high) return null;
    if (this.probe && nowMs - this.probe.startedMs < PROBE_TIMEOUT_MS) return null;
    this.probe = null;
    if (nowMs - this.lastDecreaseMs < PROBE_AFTER_CUT_MS) return null;
    if (!this.probeAgain && nowMs - this.lastProbeMs < PROBE_EVERY_MS) return null;
    // the padding alone goes at the probe's rate (the media beside it is measured with it)
    const rateKbps = Math.min(
      this.options.maxKbps,
      1.2 * high,
      this.target * (this.probeAgain ? PROBE_NEXT : PROBE_FIRST),
    );
    const bytes = Math.round(
      Math.min(PROBE_MAX_BYTES, Math.max(PROBE_MIN_BYTES, (rateKbps * PROBE_MS) / 8)),
    );
    this.probe = {
      id: ++this.probeId,
      startedMs: nowMs,
      packets: [],
      media: [],
      chained: this.probeAgain,
      bytes,
    };
    this.lastProbeMs = nowMs;
    this.probeAgain = false;
    return { id: this.probeId, rateKbps, bytes };
  }

  /**
   * The rate the path carried the probe at, with the media sent meanwhile: the bytes of the
   * later half of them (by send time) over the spread of their arrivals (less the first
   * packet's, which opens the spread), against the same over their sends. The later half:
   * a shaper's burst (a token bucket's, tbf's) lets the first few kilobytes through at
   * once, and read whole, a probe on a link of half its rate arrived as fast as it left.
   */
  private evaluateProbe() {
    const probe = this.probe!;
    this.probe = null;
    const lastSend = Math.max(...probe.packets.map((p) => p.sendMs));
    const all = [...probe.packets, ...probe.media.filter((p) => p.sendMs <= lastSend)];
    const lostShare = all.filter((p) => p.arrivalMs === null).length / all.length;
    if (lostShare > 0.2) return; // lost: not carried
    const bySend = all.filter((p) => p.arrivalMs !== null).sort((a, b) => a.sendMs - b.sendMs);
    const later = bySend.slice(Math.floor(bySend.length / 2));
    if (later.length < 3) return;
    const rate = (list: PacketFeedback[], at: (p: PacketFeedback) => number) => {
      const span = at(list.at(-1)!) - at(list[0]!);
      const bytes = list.slice(1).reduce((sum, p) => sum + p.size, 0);
      return (bytes * 8) / Math.max(span, 0.25); // TWCC's resolution
    };
    const sentKbps = rate(later, (p) => p.sendMs);
    const receivedKbps = rate(
      [...later].sort((a, b) => a.arrivalMs! - b.arrivalMs!),
      (p) => p.arrivalMs!,
    );
    // A probe that arrived slower than it was sent met the path's capacity, and its arrival
    // rate measures it; but a shaper's burst lets the first few kilobytes through at once,
    // so that is trusted only from a probe several bursts long, or in a chain (the path has
    // just carried a probe well above the cut: it changed). A small first probe on a still
    // narrow link overstates it.
    const measures = probe.chained || probe.bytes >= PROBE_MEASURES_BYTES;
    if (!probe.chained) this.beforeChain = this.target;
    const met = receivedKbps < PROBE_CARRIED * sentKbps;
    if (met && !measures) return;
    const carried = Math.min(sentKbps, receivedKbps);
    if (0.9 * carried > this.target) {
      this.target = Math.min(0.9 * carried, this.beforeCut ?? Number.POSITIVE_INFINITY);
      this.target = Math.min(this.options.maxKbps, this.target);
    } else if (met && probe.chained) {
      // The chain's last probe met the path's capacity below the target the ones before it
      // raised: a shaper's burst can carry a small probe whole (seen in the lab: a 6 KB
      // probe at 0.94 Mbit/s arrived as sent on a 0.5 Mbit/s link, and the video then
      // overflowed it). An arrival rate bounds the capacity from above (a burst only speeds
      // it), so the target comes down to it, though not below where the chain began.
      this.target = Math.max(this.beforeChain, 0.9 * carried);
    }
    this.probeAgain =
      receivedKbps >= PROBE_CARRIED * sentKbps &&
      this.beforeCut !== null &&
      this.target < this.beforeCut;
  }

  /** Queueing delay: the one-way delay now over its floor (clock offsets cancel out). */
  private trackQueue(delay: number, nowMs: number) {
    const last = this.delayFloor.at(-1);
    if (!last || nowMs - last.atMs >= 1000) this.delayFloor.push({ atMs: nowMs, delay });
    else last.delay = Math.min(last.delay, delay);
    while (this.delayFloor[0]!.atMs < nowMs - BASE_DELAY_WINDOW_MS) this.delayFloor.shift();
    const base = Math.min(...this.delayFloor.map((d) => d.delay));
    this.queueMs = delay - base;
  }

  private addToGroup(sendMs: number, arrivalMs: number, size: number) {
    const g = this.current;
    if (g && sendMs - g.firstSendMs <= GROUP_MS) {
      g.lastSendMs = Math.max(g.lastSendMs, sendMs);
      g.lastArrivalMs = Math.max(g.lastArrivalMs, arrivalMs);
      g.arrivals.push({ atMs: arrivalMs, size });
      return;
    }
    if (g && sendMs < g.firstSendMs) return; // reordered from an older group: ignored
    if (g && this.previous) {
      const sendDelta = g.lastSendMs - this.previous.lastSendMs;
      const arrivalDelta = g.lastArrivalMs - this.previous.lastArrivalMs;
      this.onDelta(sendDelta, arrivalDelta, g.lastArrivalMs);
    }
    if (g) this.previous = g;
    this.current = {
      firstSendMs: sendMs,
      lastSendMs: sendMs,
      lastArrivalMs: arrivalMs,
      arrivals: [{ atMs: arrivalMs, size }],
    };
  }

  private onDelta(sendDelta: number, arrivalDelta: number, arrivalMs: number) {
    this.deltas = Math.min(this.deltas + 1, 1000);
    this.firstArrivalMs ??= arrivalMs;
    this.accumulatedDelay += arrivalDelta - sendDelta;
    this.smoothedDelay = SMOOTHING * this.smoothedDelay + (1 - SMOOTHING) * this.accumulatedDelay;
    this.points.push({ x: arrivalMs - this.firstArrivalMs, y: this.smoothedDelay });
    if (this.points.length > WINDOW) this.points.shift();
    if (this.points.length === WINDOW) this.trend = slope(this.points) ?? this.trend;
    this.detect(sendDelta, arrivalMs);
  }

  private detect(sendDelta: number, arrivalMs: number) {
    const modified = Math.min(this.deltas, 60) * this.trend * THRESHOLD_GAIN;
    if (modified > this.threshold) {
      this.overusingMs += sendDelta;
      this.overuseCount++;
      if (
        this.overusingMs > OVERUSE_TIME_MS &&
        this.overuseCount > 1 &&
        this.trend >= this.previousTrend
      ) {
        this.overusingMs = 0;
        this.overuseCount = 0;
        this.usage = 'overusing';
      }
    } else if (modified < -this.threshold) {
      this.overusingMs = 0;
      this.overuseCount = 0;
      this.usage = 'underusing';
    } else {
      this.overusingMs = 0;
      this.overuseCount = 0;
      this.usage = 'normal';
    }
    this.previousTrend = this.trend;
    this.adaptThreshold(modified, arrivalMs);
  }

  /** The threshold follows the trend slowly, so a path's normal jitter does not read as overuse. */
  private adaptThreshold(modified: number, nowMs: number) {
    const last = this.lastThresholdUpdateMs ?? nowMs;
    this.lastThresholdUpdateMs = nowMs;
    const distance = Math.abs(modified) - this.threshold;
    if (distance > 15) return; // a spike, not the path's character
    const k = Math.abs(modified) < this.threshold ? K_DOWN : K_UP;
    this.threshold += k * distance * Math.min(nowMs - last, 100);
    this.threshold = Math.min(600, Math.max(6, this.threshold));
  }

  private ackedKbps(): number | null {
    if (this.acked.length < 2) return null;
    const span = this.acked.at(-1)!.arrivalMs - this.acked[0]!.arrivalMs;
    if (span < ACKED_WINDOW_MS / 2) return null;
    const bytes = this.acked.reduce((sum, p) => sum + p.size, 0);
    return (bytes * 8) / span;
  }

  /**
   * Whether the encoder sends less than half the target. Measured over the send times of
   * the packets reported in the last 500 ms, not over 500 ms: feedback comes a round trip
   * and a queue late, and a fixed window would read that lateness as a slow encoder.
   */
  private appLimited(): boolean {
    const sent = this.sentBytes;
    if (sent.length < 2) return true;
    const span = sent.at(-1)!.sendMs - sent[0]!.sendMs;
    if (span < 100) return false; // too little to tell
    const kbps = (sent.reduce((s, p) => s + p.size, 0) * 8) / span;
    return kbps < this.target / 2;
  }

  /** Cuts the target to `to`; false when it was not (not lower, or too soon after the last). */
  private cut(to: number, nowMs: number): boolean {
    if (to >= this.target || nowMs - this.lastDecreaseMs < DECREASE_GAP_MS) return false;
    // Only a deep cut is a changed path worth climbing back fast to; the small cuts of
    // probing a steady link's capacity climb back slowly, or the target would saw.
    // Against the highest target of the last 2 s, so a few cuts in a row count as one.
    const recentHigh = Math.max(this.target, ...this.recentTargets.map((r) => r.kbps));
    if (to < DEEP_CUT * recentHigh) this.beforeCut = Math.max(this.beforeCut ?? 0, recentHigh);
    this.target = to;
    this.lastDecreaseMs = nowMs;
    return true;
  }

  private updateRate(nowMs: number) {
    const dt = Math.min(1000, nowMs - (this.lastUpdateMs ?? nowMs));
    this.lastUpdateMs = nowMs;
    const acked = this.ackedKbps();
    let lossHolds = false;
    // loss and delay may both call for a cut at once: the deeper one is made
    let cutTo = Number.POSITIVE_INFINITY;
    if (this.lossPackets >= LOSS_MIN_PACKETS) {
      const loss = this.lossLost / this.lossPackets;
      this.lossPackets = 0;
      this.lossLost = 0;
      if (loss > 0.1) cutTo = this.target * (1 - loss / 2);
      lossHolds = loss > 0.02;
    }
    const factor = Math.max(MIN_DECREASE_FACTOR, DECREASE_FACTOR - this.queueMs / 1000);
    if (this.usage === 'overusing') cutTo = Math.min(cutTo, factor * (acked ?? this.target));
    // A sudden drop, read from the frame crossing it now (trainKbps). Its queue drains while
    // the sender holds its video (keyframe-gate.ts): the cut is the same as for overuse. A
    // deeper one (half) left a probe at 3× barely above the link, which a shaper's burst
    // then carried, and the target went above the link again.
    const train =
      this.current && this.queueMs >= TRAIN_MIN_QUEUE_MS ? trainKbps(this.current) : null;
    const step = train !== null && train < TRAIN_STEP * this.target;
    if (step) cutTo = Math.min(cutTo, factor * train);
    if (cutTo < this.target) {
      if (this.cut(cutTo, nowMs) && step) this.stepAtMs = nowMs;
    } else if (
      // underuse is a queue draining, worth waiting for only while there is one
      (this.usage === 'normal' || (this.usage === 'underusing' && this.queueMs < EMPTY_QUEUE_MS)) &&
      !lossHolds &&
      nowMs - this.lastDecreaseMs > DECREASE_GAP_MS
    ) {
      if (!this.appLimited()) {
        this.target = this.target * SLOW_GROWTH_PER_S ** (dt / 1000) + (dt / 1000) * 10;
      }
    }
    this.target = Math.min(this.options.maxKbps, Math.max(this.options.minKbps, this.target));
    if (this.beforeCut !== null && this.target >= this.beforeCut) this.beforeCut = null;
    this.recentTargets.push({ atMs: nowMs, kbps: this.target });
    while (this.recentTargets[0]!.atMs < nowMs - RECENT_MS) this.recentTargets.shift();
  }
}

/** Least-squares slope of y over x; null when x does not vary. */
export function slope(points: readonly { x: number; y: number }[]): number | null {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}
