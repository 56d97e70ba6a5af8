import { H264RtpPayload, NalUnitType, Vp8RtpPayload, Vp9RtpPayload } from 'werift';
import { rtpCodec, type VideoCodec } from '../protocol.ts';

/**
 * After a sudden drop of the link (the estimator's step, see trainKbps), what is in flight
 * overflowed the bottleneck's queue: the frames that follow reference lost ones and cannot be
 * shown until a keyframe. Sending them only fills the queue a keyframe must cross; waiting
 * for the loss to end before asking for one (twcc-sender.ts) waits for that queue to drain at
 * the difference between the link and the new target. So for one viewer: nothing is sent for
 * a moment (the queue drains at the link's whole rate and makes room for a keyframe at the
 * new rate), then a keyframe is asked for and nothing else is sent until it starts.
 */
export class KeyframeGate {
  private state: 'open' | 'holding' | 'waiting' = 'open';
  private holdUntilMs = 0;
  private askedMs = 0;
  private heldSinceMs = 0;
  private lastTimestamp: number | null = null;
  private readonly startsKeyframe: (payload: Buffer) => boolean;
  private readonly ask: () => void;

  constructor(startsKeyframe: (payload: Buffer) => boolean, askForKeyframe: () => void) {
    this.startsKeyframe = startsKeyframe;
    this.ask = askForKeyframe;
  }

  get open(): boolean {
    return this.state === 'open';
  }

  /** Sends nothing for `ms`, then from the next keyframe on. */
  hold(nowMs: number, ms: number) {
    if (this.state === 'open') this.heldSinceMs = nowMs;
    this.state = 'holding';
    this.holdUntilMs = nowMs + ms;
  }

  /** Whether a video packet (its RTP payload and timestamp) is sent. */
  pass(payload: Buffer, timestamp: number, nowMs: number): boolean {
    const frameStart = timestamp !== this.lastTimestamp;
    this.lastTimestamp = timestamp;
    if (this.state === 'open') return true;
    if (this.state === 'holding') {
      if (nowMs < this.holdUntilMs) return false;
      this.state = 'waiting';
      this.askedMs = nowMs;
      this.ask();
    }
    if (frameStart && this.startsKeyframe(payload)) {
      this.state = 'open';
      return true;
    }
    // the encoder's keyframes are rate-limited (broadcast.ts): ask again until one comes,
    // and never wait for ever
    if (nowMs - this.heldSinceMs > GIVE_UP_MS) {
      this.state = 'open';
      return true;
    }
    if (nowMs - this.askedMs >= ASK_AGAIN_MS) {
      this.askedMs = nowMs;
      this.ask();
    }
    return false;
  }
}

const ASK_AGAIN_MS = 300;
const GIVE_UP_MS = 3000;

/** Whether an RTP payload of `codec` is the first packet of a keyframe. */
export function keyframeStart(codec: VideoCodec): (payload: Buffer) => boolean {
  switch (rtpCodec(codec)) {
    case 'H264':
      // the payloader sends the parameter sets first (config-interval=-1), alone or together
      return (payload) => {
        const p = H264RtpPayload.deSerialize(payload);
        const starts = (type: number) => type === NalUnitType.sps || type === NalUnitType.idrSlice;
        if (p.nalUnitType === NalUnitType.stap_a) return p.aggregatedNalUnitTypes.some(starts);
        if (p.nalUnitType === NalUnitType.fu_a)
          return p.s === 1 && p.nalUnitPayloadType === NalUnitType.idrSlice;
        return starts(p.nalUnitType);
      };
    case 'VP8':
      return (payload) => {
        const p = Vp8RtpPayload.deSerialize(payload);
        return p.payloadHeaderExist && p.isKeyframe;
      };
    case 'VP9':
      return (payload) => Vp9RtpPayload.deSerialize(payload).isKeyframe;
    case 'AV1':
      // the aggregation header's N bit: the first packet of a new coded video sequence
      return (payload) => payload.length > 0 && (payload[0]! & 0x08) !== 0;
  }
}
