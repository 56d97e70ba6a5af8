import type {
  ClientSignal,
  IceServer,
  InputMessage,
  ServerSignal,
  StreamerMessage,
  VideoCodec,
} from '@floe/streamer/protocol';
import { preferredCodecs } from './codecs.ts';
import { CLOSE_CODES, FILES_CHANNEL, INPUT_CHANNEL, PROTOCOL_VERSION } from './contract.ts';
import type { ServerError } from './reconnect.ts';

/**
 * One attempt at a stream: the signalling WebSocket, the peer connection it negotiates, and
 * the input data channel. It reports `lost` exactly once, after tearing itself down; the
 * session decides whether to try again.
 */

export type Welcome = Extract<ServerSignal, { type: 'welcome' }>;

export interface ConnectionOptions {
  url: string;
  relay: boolean;
  codec: VideoCodec | null;
  /** the session's ICE servers from the gateway, asked when the streamer offers none */
  iceServers?: () => Promise<IceServer[]>;
  /** the viewer's microphone track while it is on (a new connection sends it from the start) */
  microphone?: () => MediaStreamTrack | null;
}

export interface LostInfo {
  closeCode: number;
  error: ServerError | null;
  reason: string;
}

export interface ConnectionHandlers {
  welcome(welcome: Welcome): void;
  track(track: MediaStreamTrack): void;
  channelOpen(): void;
  /** The file-transfer channel of this connection, made when the streamer allows files. */
  filesChannel?(channel: RTCDataChannel): void;
  message(message: StreamerMessage): void;
  connected(): void;
  /** The streamer reported an error (the socket usually closes next). */
  error(message: string): void;
  lost(info: LostInfo): void;
}

export interface Connection {
  readonly pc: RTCPeerConnection | null;
  send(message: InputMessage): boolean;
  /** Sends the microphone (a track) or stops sending it (null); no renegotiation needed. */
  setMicrophone(track: MediaStreamTrack | null): Promise<void>;
  close(): void;
}

/** A brief `disconnected` (Wi-Fi hiccup) often recovers by itself; longer, start over. */
export const DISCONNECTED_GRACE_MS = 3000;
/** From welcome to a connected peer; ICE's own failure detection can take half a minute. */
export const CONNECT_TIMEOUT_MS = 20_000;
/** A locally made close code for "the media path failed", outside the streamer's range. */
const MEDIA_LOST = 4999;

type Receiver = RTCRtpReceiver & { playoutDelayHint?: number | null };

/** Ask the receiver to play frames as soon as they decode: latency over smoothness. */
function lowLatency(receiver: Receiver): void {
  if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = 0;
  // The older Chrome-only name of the same knob.
  if ('playoutDelayHint' in receiver) receiver.playoutDelayHint = 0;
}

const ABS_CAPTURE_TIME_URI = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time';

/** The header extension API (Chrome 124+), not yet in TypeScript's DOM types. */
type HeaderExtension = { uri: string; direction: RTCRtpTransceiverDirection };
type ExtensionControl = RTCRtpTransceiver & {
  getHeaderExtensionsToNegotiate?(): HeaderExtension[];
  setHeaderExtensionsToNegotiate?(extensions: HeaderExtension[]): void;
};

/**
 * Ask for the frames' capture times (abs-capture-time): Chrome has the extension but does not
 * offer it unless asked. With it, requestVideoFrameCallback's `captureTime` says when the
 * streamer captured each frame shown, so glass-to-glass is measured for any app (latency.ts).
 */
function askCaptureTime(transceiver: ExtensionControl): void {
  const extensions = transceiver.getHeaderExtensionsToNegotiate?.();
  if (!extensions?.some((e) => e.uri === ABS_CAPTURE_TIME_URI)) return;
  try {
    transceiver.setHeaderExtensionsToNegotiate?.(
      extensions.map((e) => (e.uri === ABS_CAPTURE_TIME_URI ? { ...e, direction: 'recvonly' } : e)),
    );
  } catch {
    // refused: the overlay falls back to its estimate
  }
}

function isServerSignal(v: unknown): v is ServerSignal {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string';
}

function isStreamerMessage(v: unknown): v is StreamerMessage {
  return typeof v === 'object' && v !== null && typeof (v as { t?: unknown }).t === 'string';
}

export function openConnection(options: ConnectionOptions, on: ConnectionHandlers): Connection {
  const ws = new WebSocket(options.url);
  let pc: RTCPeerConnection | null = null;
  let channel: RTCDataChannel | null = null;
  let microphone: RTCRtpSender | null = null;
  let done = false;
  let lastError: ServerError | null = null;
  let disconnectedTimer: ReturnType<typeof setTimeout> | undefined;
  let connectTimer: ReturnType<typeof setTimeout> | undefined;
  // Remote candidates that arrive before the answer is applied; null ends them.
  let pending: (RTCIceCandidateInit | null)[] | null = [];

  const signal = (message: ClientSignal) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };

  const teardown = () => {
    done = true;
    clearTimeout(disconnectedTimer);
    clearTimeout(connectTimer);
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close(1000);
    if (channel) channel.onopen = channel.onmessage = channel.onclose = null;
    if (pc) {
      pc.onicecandidate = pc.ontrack = pc.onconnectionstatechange = null;
      pc.close();
    }
    channel = null;
  };

  const lose = (closeCode: number, reason: string) => {
    if (done) return;
    teardown();
    on.lost({ closeCode, error: lastError, reason });
  };

  const addCandidate = (candidate: RTCIceCandidateInit | null) => {
    if (!pc) return;
    // Without an argument: the end of the streamer's candidates.
    const added = candidate ? pc.addIceCandidate(candidate) : pc.addIceCandidate();
    added.catch(() => {
      // A candidate the browser cannot use (an address family it lacks) is not fatal.
    });
  };

  const negotiate = async (welcome: Welcome) => {
    // a session pod's streamer offers none: the gateway's, handed to the streamer too
    const fromGateway =
      welcome.iceServers.length === 0 && options.iceServers ? await options.iceServers() : [];
    if (done) return;
    const peer = new RTCPeerConnection({
      iceServers: fromGateway.length > 0 ? fromGateway : welcome.iceServers,
      iceTransportPolicy: options.relay ? 'relay' : 'all',
    });
    pc = peer;
    const dc = peer.createDataChannel(INPUT_CHANNEL, { ordered: true });
    channel = dc;
    dc.onopen = () => on.channelOpen();
    dc.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      try {
        const message: unknown = JSON.parse(e.data);
        if (isStreamerMessage(message)) on.message(message);
      } catch {
        // Not JSON: nothing this page understands.
      }
    };

    if (welcome.transfer?.files && on.filesChannel) {
      on.filesChannel(peer.createDataChannel(FILES_CHANNEL, { ordered: true }));
    }

    const video = peer.addTransceiver('video', { direction: 'recvonly' });
    if (options.codec && welcome.codecs.includes(options.codec)) {
      const capabilities = RTCRtpReceiver.getCapabilities?.('video');
      const codecs = capabilities && preferredCodecs(capabilities.codecs, options.codec);
      if (codecs) video.setCodecPreferences(codecs);
    }
    lowLatency(video.receiver);
    askCaptureTime(video);
    peer.addTransceiver('audio', { direction: 'recvonly' });
    // The microphone: a second audio section, sending only, offered from the start so that
    // turning the microphone on later is a replaceTrack, not a new offer. Silent until then.
    const mic = peer.addTransceiver('audio', { direction: 'sendonly' });
    microphone = mic.sender;
    const micTrack = options.microphone?.() ?? null;
    if (micTrack) await mic.sender.replaceTrack(micTrack);

    peer.ontrack = (e) => on.track(e.track);
    peer.onicecandidate = ({ candidate: c }) =>
      signal({
        type: 'ice',
        candidate: c && {
          candidate: c.candidate,
          sdpMid: c.sdpMid,
          sdpMLineIndex: c.sdpMLineIndex,
          usernameFragment: c.usernameFragment,
        },
      });
    peer.onconnectionstatechange = () => {
      const state = peer.connectionState;
      if (state === 'connected') {
        clearTimeout(disconnectedTimer);
        clearTimeout(connectTimer);
        disconnectedTimer = undefined;
        on.connected();
      } else if (state === 'failed') {
        lose(MEDIA_LOST, 'the media connection failed');
      } else if (state === 'disconnected' && disconnectedTimer === undefined) {
        disconnectedTimer = setTimeout(
          () => lose(MEDIA_LOST, 'the media connection was interrupted'),
          DISCONNECTED_GRACE_MS,
        );
      }
    };
    connectTimer = setTimeout(
      () => lose(MEDIA_LOST, 'the media connection could not be established'),
      CONNECT_TIMEOUT_MS,
    );

    const offer = await peer.createOffer();
    if (done) return;
    await peer.setLocalDescription(offer);
    if (done || !peer.localDescription) return;
    signal({
      type: 'offer',
      sdp: peer.localDescription.sdp,
      ...(fromGateway.length > 0 && { iceServers: fromGateway }),
    });
  };

  const onSignal = async (message: ServerSignal) => {
    switch (message.type) {
      case 'welcome':
        on.welcome(message);
        if (message.protocolVersion !== PROTOCOL_VERSION) {
          lastError = {
            code: 'bad_message',
            message: `This page is out of date (protocol ${PROTOCOL_VERSION}, stream ${message.protocolVersion}). Reload it.`,
          };
          lose(CLOSE_CODES.badMessage, lastError.message);
          return;
        }
        await negotiate(message);
        return;
      case 'answer': {
        if (!pc) return;
        await pc.setRemoteDescription({ type: 'answer', sdp: message.sdp });
        const queued = pending ?? [];
        pending = null;
        for (const candidate of queued) addCandidate(candidate);
        return;
      }
      case 'ice':
        if (pending) pending.push(message.candidate);
        else addCandidate(message.candidate);
        return;
      case 'error':
        lastError = { code: message.code, message: message.message };
        on.error(message.message);
        return;
    }
  };

  ws.onmessage = (e) => {
    if (done || typeof e.data !== 'string') return;
    let message: unknown;
    try {
      message = JSON.parse(e.data);
    } catch {
      return;
    }
    if (!isServerSignal(message)) return;
    onSignal(message).catch((err: unknown) => {
      lastError = { code: 'negotiation_failed', message: `Could not start the stream: ${err}` };
      lose(MEDIA_LOST, lastError.message);
    });
  };
  ws.onclose = (e) => lose(e.code, e.reason || 'the signalling connection closed');

  return {
    get pc() {
      return pc;
    },
    send(message) {
      if (channel?.readyState !== 'open') return false;
      channel.send(JSON.stringify(message));
      return true;
    },
    async setMicrophone(track) {
      await microphone?.replaceTrack(track);
    },
    close() {
      teardown();
    },
  };
}
