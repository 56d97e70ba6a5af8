import {
  MediaStreamTrack,
  type RTCDataChannel,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  type RTCRtpTransceiver,
  RTP_EXTENSION_URI,
  RtcpTransportLayerFeedback,
  RtpPacket,
  TransportWideCC,
} from 'werift';
import type { ReceiverFeedback } from './bitrate.ts';
import { remoteCandidateAction } from './candidates.ts';
import { ABS_CAPTURE_TIME_URI, absCaptureTimePayload } from './capture-time.ts';
import type { EstimatorOptions } from './congestion/estimator.ts';
import { KeyframeGate, keyframeStart } from './congestion/keyframe-gate.ts';
import { Prober } from './congestion/prober.ts';
import { limitRetransmissions } from './congestion/retransmit-budget.ts';
import { type TraceEntry, TwccSender, WIRE_OVERHEAD_BYTES } from './congestion/twcc-sender.ts';
import type { FileChannel } from './files/transfer.ts';
import { weriftIceServers } from './ice-servers.ts';
import {
  FILES_CHANNEL,
  type IceCandidate,
  type IceServer,
  INPUT_CHANNEL,
  type StreamerMessage,
  type VideoCodec,
} from './protocol.ts';

// NACK and PLI let the browser repair losses without a new keyframe every time. transport-cc
// makes Chrome report each packet's arrival time, from which congestion/ estimates the path
// (bitrate.ts); goog-remb, Chrome's own receive-side estimate, is the fallback where a
// browser does not send transport-wide feedback.
const feedback = [
  { type: 'nack' },
  { type: 'nack', parameter: 'pli' },
  { type: 'transport-cc' },
  { type: 'goog-remb' },
];

const CODEC_PARAMETERS: Record<VideoCodec, RTCRtpCodecParameters> = {
  H264: new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90_000,
    rtcpFeedback: feedback,
    parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
  }),
  VP8: new RTCRtpCodecParameters({
    mimeType: 'video/VP8',
    clockRate: 90_000,
    rtcpFeedback: feedback,
  }),
  // High 4:4:4 Predictive (x264 from Y444): profile_idc 244, no constraints, level 3.1
  // (with level-asymmetry-allowed, a decoder's level does not bound what is sent)
  'H264-444': new RTCRtpCodecParameters({
    mimeType: 'video/H264',
    clockRate: 90_000,
    rtcpFeedback: feedback,
    parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=f4001f',
  }),
  // Profile 0 (8-bit 4:2:0), what vp9enc makes from I420; codec.ts accepts only offers of it.
  VP9: new RTCRtpCodecParameters({
    mimeType: 'video/VP9',
    clockRate: 90_000,
    rtcpFeedback: feedback,
    parameters: 'profile-id=0',
  }),
  // Profile 1 (8-bit 4:4:4), what vp9enc makes from Y444.
  'VP9-444': new RTCRtpCodecParameters({
    mimeType: 'video/VP9',
    clockRate: 90_000,
    rtcpFeedback: feedback,
    parameters: 'profile-id=1',
  }),
  // Main profile; the RTP comes from werift's Av1Packetizer (pipeline.ts), not GStreamer.
  AV1: new RTCRtpCodecParameters({
    mimeType: 'video/AV1',
    clockRate: 90_000,
    rtcpFeedback: feedback,
    parameters: 'level-idx=5;profile=0;tier=0',
  }),
};

/**
 * Chrome's playout-delay extension with min = max = 0 tells the receiver to render each frame
 * as soon as it is decoded instead of smoothing playout through its jitter buffer: the
 * low-latency rendering path cloud-gaming services use.
 */
const PLAYOUT_DELAY_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/playout-delay';
const ZERO_PLAYOUT_DELAY = Buffer.from([0, 0, 0]);

const OPUS = new RTCRtpCodecParameters({
  mimeType: 'audio/opus',
  clockRate: 48_000,
  channels: 2,
  parameters: 'minptime=10;useinbandfec=1;stereo=1',
});

export interface ViewerPeerOptions {
  codec: VideoCodec;
  /** Send an audio track (PulseAudio is there); otherwise the audio section is declined. */
  audio: boolean;
  iceServers: IceServer[];
  onLocalCandidate: (candidate: IceCandidate | null) => void;
  /** A text message arrived on the input channel (not yet validated). */
  onInput: (message: string) => void;
  onChannelOpen: () => void;
  /**
   * The browser opened its "files" channel: the returned handlers get its messages, its
   * drain events and its close. Absent: the channel is closed at once.
   */
  onFilesChannel?: (channel: FileChannel) => {
    receive(data: string | Buffer): void;
    drained(): void;
    close(): void | Promise<void>;
  };
  /**
   * A keyframe is needed: the browser lost a picture and asked (`pli`), the sender saw an
   * outage or an overflowed queue end (`loss`), or held the video after the link narrowed
   * suddenly (`step`, keyframe-gate.ts).
   */
  onPictureLoss: (reason: 'pli' | 'loss' | 'step') => void;
  /** A remote candidate werift refused (an address family this host lacks): not fatal. */
  onCandidateError: (error: Error) => void;
  onStateChange: (state: string) => void;
  /** An RTP packet of the viewer's microphone (Opus), once the viewer turned it on. */
  onMicrophoneRtp?: (packet: Buffer) => void;
  /** Bounds of the send-side estimate (transport-wide feedback). */
  bitrate: EstimatorOptions;
  /** The send-side estimate changed (many times a second while feedback comes). */
  onTargetBitrate?: (kbps: number) => void;
  /** Each transport-wide feedback as the estimator saw it (the benchmark records traces). */
  onCongestionTrace?: (entry: TraceEntry) => void;
}

/** One browser's WebRTC connection: the streamer answers its offer and sends it video. */
export interface ViewerPeer {
  answer(offerSdp: string): Promise<string>;
  /** Never waits: candidates that come before the answer is made are applied after it. */
  addRemoteCandidate(candidate: IceCandidate | null): void;
  /** `capturedAtMs`: when the frame was captured (Unix ms), sent as abs-capture-time. */
  writeRtp(packet: Buffer, capturedAtMs?: number): void;
  writeAudioRtp(packet: Buffer): void;
  /** A new encoder (after a resize) starts its own RTP sequence; a new track keeps it continuous. */
  restartTrack(): Promise<void>;
  send(message: StreamerMessage): void;
  feedback(): Promise<ReceiverFeedback & { rttMs: number | null; sentBytes: number }>;
  close(): Promise<void>;
}

export function createViewerPeer(options: ViewerPeerOptions): ViewerPeer {
  const pc = new RTCPeerConnection({
    codecs: { video: [CODEC_PARAMETERS[options.codec]], audio: options.audio ? [OPUS] : [] },
    headerExtensions: {
      video: [
        new RTCRtpHeaderExtensionParameters({ id: 5, uri: PLAYOUT_DELAY_URI }),
        // offered by the page only when it asks for it (connection.ts): Chrome's default is off
        new RTCRtpHeaderExtensionParameters({ id: 13, uri: ABS_CAPTURE_TIME_URI }),
        new RTCRtpHeaderExtensionParameters({ id: 3, uri: RTP_EXTENSION_URI.transportWideCC }),
      ],
      audio: [],
    },
    iceServers: weriftIceServers(options.iceServers),
  });
  let track = new MediaStreamTrack({ kind: 'video' });
  const audioTrack = new MediaStreamTrack({ kind: 'audio' });
  let video: RTCRtpTransceiver | undefined;
  let channel: RTCDataChannel | undefined;
  let playoutDelayId: number | undefined;
  let captureTimeId: number | undefined;
  /** writes a packet to the video track: the transport-wide sequence number werift gave it */
  const sendVideo = (packet: RtpPacket): number | undefined => {
    // werift stamps the transport-wide sequence number synchronously inside writeRtp (before
    // its first await): a number that moved is this packet's
    const transport = video?.sender.dtlsTransport;
    const before = transport?.transportSequenceNumber;
    track.writeRtp(packet);
    const seq = transport?.transportSequenceNumber;
    return seq !== undefined && seq !== before ? seq : undefined;
  };
  // after a sudden drop of the link: no video for a moment, then from a keyframe on
  const gate = new KeyframeGate(keyframeStart(options.codec), () => options.onPictureLoss('step'));
  const twcc = new TwccSender(options.bitrate, {
    target: (kbps) => options.onTargetBitrate?.(kbps),
    // after an outage or an overflowed queue: a keyframe now, not once NACKs have failed
    keyframeNeeded: () => options.onPictureLoss('loss'),
    step: (holdMs) => gate.hold(performance.now(), holdMs),
    probe: (request) => prober.probe(request),
    trace: options.onCongestionTrace,
  });
  const prober = new Prober(sendVideo, (seq, bytes, probe) =>
    twcc.packetSent(seq, bytes, performance.now(), probe),
  );
  // The browser's candidates that came while the answer was being made, applied once it is;
  // null from then on.
  //
  // Why: the browser sends its offer and its first host candidate in the same instant, so
  // both WebSocket messages often arrive in one read and are handled in one tick. The
  // candidate then reaches werift before setRemoteDescription has applied the offer (it waits
  // a microtask first); werift parks it and setRemoteDescription awaits it before returning.
  // That candidate is Chromium's mDNS host name, which werift tries to resolve for 10 s
  // before giving up: the answer, and so the whole stream, came 10 s late on 1 open in 2 or
  // 3 (issue 13). Held here, a candidate can no longer delay the answer, whatever werift does
  // with it; mDNS names are not given to werift at all (see candidates.ts).
  let held: (IceCandidate | null)[] | null = [];
  let mdnsSkipped = false;
  const apply = (candidate: IceCandidate | null) => {
    const action = remoteCandidateAction(candidate, mdnsSkipped);
    if (action === 'skip-mdns') mdnsSkipped = true;
    if (action !== 'apply') return;
    pc.addIceCandidate(candidate ?? undefined).catch((error: Error) =>
      options.onCandidateError(error),
    );
  };

  pc.onIceCandidate.subscribe((candidate) => {
    options.onLocalCandidate(candidate ? (candidate.toJSON() as IceCandidate) : null);
  });
  pc.connectionStateChange.subscribe((state) => options.onStateChange(state));
  pc.onDataChannel.subscribe((dc) => {
    if (dc.label === FILES_CHANNEL) {
      const files = options.onFilesChannel?.(dc);
      if (!files) return dc.close();
      dc.bufferedAmountLowThreshold = 256 * 1024;
      dc.onMessage.subscribe((data) => files.receive(data));
      dc.bufferedAmountLow.subscribe(() => files.drained());
      dc.stateChanged.subscribe((state) => state === 'closed' && void files.close());
      return;
    }
    if (dc.label !== INPUT_CHANNEL) return;
    channel = dc;
    dc.onMessage.subscribe((data) => {
      if (typeof data === 'string') options.onInput(data);
    });
    if (dc.readyState === 'open') options.onChannelOpen();
    else dc.stateChanged.subscribe((state) => state === 'open' && options.onChannelOpen());
  });

  return {
    async answer(offerSdp) {
      await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      video = pc.getTransceivers().find((t) => t.kind === 'video');
      if (!video) throw new Error('the offer has no video section');
      video.setDirection('sendonly');
      await video.sender.replaceTrack(track);
      video.sender.onPictureLossIndication.subscribe(() => options.onPictureLoss('pli'));
      limitRetransmissions(video.sender, {
        // nothing resent while a keyframe is awaited: it replaces what was lost
        targetKbps: () =>
          gate.open ? (twcc.targetKbps(performance.now()) ?? options.bitrate.startKbps) : 0,
        transportCcId: video.headerExtensions.find(
          (e) => e.uri === RTP_EXTENSION_URI.transportWideCC,
        )?.id,
        sent: (seq, bytes) => twcc.packetSent(seq, bytes, performance.now()),
      });
      video.sender.onRtcp.subscribe((rtcp) => {
        if (rtcp.type !== RtcpTransportLayerFeedback.type) return;
        const fb = (rtcp as RtcpTransportLayerFeedback).feedback;
        if (fb instanceof TransportWideCC) twcc.feedback(fb, performance.now());
      });
      // Separate streams: the browser then renders each as soon as it can instead of holding
      // video back to line it up with audio's larger jitter buffer.
      video.sender.streamId = 'floe-video';
      const audio = options.audio
        ? pc.getTransceivers().find((t) => t.kind === 'audio')
        : undefined;
      if (audio) {
        audio.setDirection('sendonly');
        audio.sender.streamId = 'floe-audio';
        await audio.sender.replaceTrack(audioTrack);
      }
      // The page offers its microphone as a second audio section, sending only: received
      // here, it carries nothing until the viewer turns the microphone on.
      const microphone =
        audio && options.onMicrophoneRtp
          ? pc.getTransceivers().find((t) => t.kind === 'audio' && t !== audio)
          : undefined;
      if (microphone && options.onMicrophoneRtp) {
        const onRtp = options.onMicrophoneRtp;
        microphone.setDirection('recvonly');
        // werift made the receiving track while applying the offer (its track event is gone)
        microphone.receiver.track.onReceiveRtp.subscribe((rtp) => onRtp(rtp.serialize()));
      }
      for (const t of pc.getTransceivers())
        if (t !== video && t !== audio && t !== microphone) t.setDirection('inactive');
      playoutDelayId = video.headerExtensions.find((e) => e.uri === PLAYOUT_DELAY_URI)?.id;
      captureTimeId = video.headerExtensions.find((e) => e.uri === ABS_CAPTURE_TIME_URI)?.id;
      await pc.setLocalDescription(await pc.createAnswer());
      const early = held ?? [];
      held = null;
      for (const candidate of early) apply(candidate);
      return pc.localDescription!.sdp;
    },
    addRemoteCandidate(candidate) {
      if (held) held.push(candidate);
      else apply(candidate);
    },
    writeRtp(packet, capturedAtMs) {
      const rtp = RtpPacket.deSerialize(packet);
      if (!gate.pass(rtp.payload, rtp.header.timestamp, performance.now())) return;
      prober.media(rtp.header);
      if (playoutDelayId !== undefined)
        rtp.header.extensions.push({ id: playoutDelayId, payload: ZERO_PLAYOUT_DELAY });
      // On every packet of the frame, not only its first: Chrome takes a frame's capture
      // time from its packets, and a lost first packet (repaired by NACK) must not lose it.
      if (captureTimeId !== undefined && capturedAtMs !== undefined)
        rtp.header.extensions.push({
          id: captureTimeId,
          payload: absCaptureTimePayload(capturedAtMs),
        });
      const seq = sendVideo(rtp);
      if (seq !== undefined)
        twcc.packetSent(seq, packet.length + WIRE_OVERHEAD_BYTES, performance.now());
    },
    writeAudioRtp(packet) {
      audioTrack.writeRtp(packet);
    },
    async restartTrack() {
      track = new MediaStreamTrack({ kind: 'video' });
      await video?.sender.replaceTrack(track);
    },
    send(message) {
      if (channel?.readyState === 'open') channel.send(JSON.stringify(message));
    },
    async feedback() {
      const sender = video?.sender;
      const report = await pc.getStats();
      let rttMs: number | null = null;
      let fractionLost: number | null = null;
      let sentBytes = 0;
      for (const s of report.values() as Iterable<Record<string, unknown>>) {
        if (s.kind !== 'video') continue;
        if (s.type === 'remote-inbound-rtp') {
          if (typeof s.roundTripTime === 'number') rttMs = s.roundTripTime * 1000;
          if (typeof s.fractionLost === 'number') fractionLost = s.fractionLost;
        }
        if (s.type === 'outbound-rtp' && typeof s.bytesSent === 'number') sentBytes = s.bytesSent;
      }
      const remb = sender ? Number(sender.receiverEstimatedMaxBitrate) : 0;
      return {
        rttMs,
        fractionLost,
        rembKbps: remb > 0 ? remb / 1000 : null,
        twccKbps: twcc.targetKbps(performance.now()),
        sentBytes,
      };
    },
    async close() {
      prober.close();
      await pc.close();
    },
  };
}
