/**
 * The streamer's wire protocol, shared with web/ (which imports the types only).
 *
 * Signalling runs over a WebSocket at `/signal` as JSON text frames:
 *
 *   browser                         streamer
 *      ── connect ─────────────────────▶
 *      ◀──────────────────── welcome   (ICE servers, codecs, display size)
 *      ── offer (recvonly video+audio, data channel "input") ▶
 *      ◀──────────────────── answer    (the codec chosen)
 *      ◀── ice ──▶ (trickle, both ways; `candidate: null` ends gathering)
 *      ◀──────────────────── error     (then the socket closes with a 4xxx code)
 *
 * The browser offers, so the streamer picks the first codec of its own preference that the
 * browser's offer contains. Input, clipboard, resize and stats then travel over the
 * WebRTC data channel "input" (ordered, reliable), also JSON.
 *
 * The signalling socket stays open for the whole stream: its close means the stream is over
 * (the page reconnects unless the close code says another viewer is in control). Every
 * `error` is followed by a close: 4409 busy, 4410 taken over, 1001 streamer going away,
 * 4400 for everything else (bad message, no common codec, negotiation failed).
 *
 * This file has no runtime dependencies, so the browser bundle can import its values;
 * protocol-schema.ts validates incoming messages against these types with zod.
 */
export const PROTOCOL_VERSION = 1;
export const SIGNAL_PATH = '/signal';
export const INPUT_CHANNEL = 'input';

/**
 * Video codecs the streamer can encode, by their WebRTC names. `-444` is the codec with full
 * colour resolution (4:4:4 chroma: H.264 High 4:4:4 Predictive, VP9 profile 1), for apps whose
 * coloured text or thin coloured lines 4:2:0 would blur; it costs more CPU and bits, so it is
 * used only where an app or a viewer asks for it.
 */
export const VIDEO_CODECS = ['H264', 'VP8', 'VP9', 'AV1', 'H264-444', 'VP9-444'] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];

/** The codec whose RTP a video codec is sent as (a full-colour variant is its codec's). */
export type RtpCodec = 'H264' | 'VP8' | 'VP9' | 'AV1';
export function rtpCodec(codec: VideoCodec): RtpCodec {
  return codec === 'H264-444' ? 'H264' : codec === 'VP9-444' ? 'VP9' : codec;
}

/** WebSocket close codes the streamer uses; 4000–4999 is the application range. */
export const CLOSE_CODES = {
  /** Another viewer is in control and the policy is `refuse`. */
  busy: 4409,
  /** A newer viewer took over (policy `takeover`). */
  takenOver: 4410,
  /** The client sent something the protocol does not allow. */
  badMessage: 4400,
  /** The session's owner removed this viewer (issue 19). */
  removed: 4403,
  /** The streamer is shutting down. */
  goingAway: 1001,
} as const;

export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface IceCandidate {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

// ── signalling: streamer → browser ──────────────────────────────────────────────────────────

export type ServerSignal =
  | {
      type: 'welcome';
      protocolVersion: number;
      iceServers: IceServer[];
      /** Codecs in the streamer's order of preference. */
      codecs: VideoCodec[];
      display: { width: number; height: number };
      /** The display can follow the browser window's size. */
      resizable: boolean;
      /** Clipboard and file transfer as this session allows them (absent: an older streamer). */
      transfer?: TransferPolicy;
    }
  | { type: 'answer'; sdp: string; codec: VideoCodec }
  | { type: 'ice'; candidate: IceCandidate | null }
  | { type: 'error'; code: SignalErrorCode; message: string };

export type SignalErrorCode =
  | 'busy'
  | 'taken_over'
  | 'removed'
  | 'bad_message'
  | 'no_common_codec'
  | 'negotiation_failed';

// ── signalling: browser → streamer (validated by protocol-schema.ts) ─────────────────────────

export type ClientSignal =
  | {
      type: 'offer';
      sdp: string;
      /**
       * The session's ICE servers as the gateway gave them to the page, for a streamer that
       * has none of its own (a session pod's): used for this viewer's peer only.
       */
      iceServers?: IceServer[];
    }
  | { type: 'ice'; candidate: (IceCandidate & { usernameFragment?: string | null }) | null };

// ── data channel: browser → streamer (validated by protocol-schema.ts) ──────────────────────

/** Bounds the streamer enforces on what browsers send. */
export const LIMITS = {
  resize: { minWidth: 320, maxWidth: 7680, minHeight: 240, maxHeight: 4320 },
  /** Largest |dx| / |dy| of a `rel` or `wheel` message. */
  maxDelta: 10_000,
  /** Longest clipboard text, in UTF-16 code units. */
  maxClipboard: 1024 * 1024,
  /** Keysyms reach 0x1008ffff (XF86 media keys) and 0x110ffff (Unicode). */
  maxKeysym: 0x1fffffff,
  /** The browser's devicePixelRatio a `resize` may carry. */
  scale: { min: 0.25, max: 8 },
} as const;

export type InputMessage =
  /** A key by X keysym (layout-independent: the browser sends what the key produced). */
  | { t: 'key'; keysym: number; down: boolean }
  /** Absolute pointer position as a fraction of the display (0..1), so a resize cannot skew it. */
  | { t: 'move'; x: number; y: number }
  /** Relative motion in display pixels (pointer lock). */
  | { t: 'rel'; dx: number; dy: number }
  /** X button numbers: 1 left, 2 middle, 3 right, 8 back, 9 forward. */
  | { t: 'button'; button: number; down: boolean }
  /** Wheel in notches; positive dy scrolls down, positive dx right. */
  | { t: 'wheel'; dx: number; dy: number }
  /** Release every key and button held (the page lost focus). */
  | { t: 'reset' }
  | { t: 'clipboard'; text: string }
  /**
   * Ask for the display to match the browser's video area, in device pixels. `scale` is the
   * browser's devicePixelRatio: the display's DPI follows it (96 × scale), so text is sized
   * as the browser sizes its own.
   */
  | { t: 'resize'; width: number; height: number; scale?: number }
  /** Clock probe: the streamer answers with `pong` carrying its own time. */
  | { t: 'ping'; id: number; sent: number }
  /** "I'm still here": resets the idle clock (as input does) without touching the app. */
  | { t: 'still-here' }
  /** The owner hands control to another viewer (`on`), or takes it back (issue 19). */
  | { t: 'control'; viewer: string; on: boolean }
  /** The owner removes another viewer from the session. */
  | { t: 'remove'; viewer: string }
  /**
   * What changed on one of the browser's gamepads, in the session's layout (GAMEPAD_BUTTONS,
   * GAMEPAD_AXES: [index, value] pairs). Buttons are pressed or not; sticks and the d-pad go
   * from -1 to 1 (down and right positive), triggers from 0 to 1. A pad the browser lost is
   * sent back to rest (docs/gamepads.md).
   */
  | { t: 'gamepad'; pad: number; buttons?: [number, boolean][]; axes?: [number, number][] };

// ── gamepads: the layout the session sees (docs/gamepads.md) ─────────────────────────────────

/** One pad as the session sees it: wire values, by GAMEPAD_BUTTONS and GAMEPAD_AXES index. */
export interface GamepadState {
  buttons: boolean[];
  axes: number[];
}

/** Most pads a session has: /dev/input/js0–js3 and event0–event3 inside it. */
export const GAMEPAD_PADS = 4;

/**
 * The pad's buttons, in the order Linux's xpad driver reports an Xbox 360 pad (so games'
 * mappings for that pad fit), with their evdev key codes and the browser's "standard" mapping
 * button that drives each. xpad gives the left face button BTN_X (= BTN_NORTH) and the top
 * one BTN_Y (= BTN_WEST): kept, since that is what games were mapped against.
 */
export const GAMEPAD_BUTTONS = [
  { name: 'BTN_A', code: 0x130, standard: 0 },
  { name: 'BTN_B', code: 0x131, standard: 1 },
  { name: 'BTN_X', code: 0x133, standard: 2 },
  { name: 'BTN_Y', code: 0x134, standard: 3 },
  { name: 'BTN_TL', code: 0x136, standard: 4 },
  { name: 'BTN_TR', code: 0x137, standard: 5 },
  { name: 'BTN_SELECT', code: 0x13a, standard: 8 },
  { name: 'BTN_START', code: 0x13b, standard: 9 },
  { name: 'BTN_MODE', code: 0x13c, standard: 16 },
  { name: 'BTN_THUMBL', code: 0x13d, standard: 10 },
  { name: 'BTN_THUMBR', code: 0x13e, standard: 11 },
] as const;

/**
 * The pad's axes, as xpad reports them: sticks, the analog triggers (the browser's buttons 6
 * and 7) and the d-pad as a hat (the browser's buttons 12–15). `kind` says the value's range
 * on the wire: `stick` and `hat` -1..1, `trigger` 0..1.
 */
export const GAMEPAD_AXES = [
  { name: 'ABS_X', code: 0x00, kind: 'stick' },
  { name: 'ABS_Y', code: 0x01, kind: 'stick' },
  { name: 'ABS_Z', code: 0x02, kind: 'trigger' },
  { name: 'ABS_RX', code: 0x03, kind: 'stick' },
  { name: 'ABS_RY', code: 0x04, kind: 'stick' },
  { name: 'ABS_RZ', code: 0x05, kind: 'trigger' },
  { name: 'ABS_HAT0X', code: 0x10, kind: 'hat' },
  { name: 'ABS_HAT0Y', code: 0x11, kind: 'hat' },
] as const;

/** Someone watching a session, as every viewer of it is shown (`viewers`). */
export interface ViewerInfo {
  /** this connection's id in the streamer (what `control` and `remove` name) */
  id: string;
  /** the user's email (or id), as the gateway signed it */
  name: string;
  /** the user's id at the control plane (the viewer token's subject) */
  user: string;
  role: 'owner' | 'control' | 'viewer';
  /** holds control now: its input reaches the app */
  control: boolean;
}

// ── data channel: streamer → browser ────────────────────────────────────────────────────────

export type StreamerMessage =
  | { t: 'clipboard'; text: string }
  /** A message the session's policy does not allow (clipboard off): it was dropped. */
  | { t: 'refused'; what: 'clipboard'; message: string }
  /** Who is watching, sent to all of them on every change; `you` is the receiver's id. */
  | { t: 'viewers'; you: string; viewers: ViewerInfo[] }
  | { t: 'display'; width: number; height: number }
  | { t: 'pong'; id: number; sent: number; streamerTime: number }
  /**
   * The app asked pad `pad` to rumble (an evdev force-feedback effect): the page plays it on
   * the browser's pad of that index. Magnitudes 0..1, duration in ms.
   */
  | { t: 'rumble'; pad: number; strong: number; weak: number; duration: number }
  /**
   * The idle shutdown's warning, to every viewer: sent when the data channel opens and
   * whenever it changes. `secondsLeft`: the session is stopped for idleness in that many
   * seconds unless someone gives input or sends `still-here` (0: due now); null: no warning.
   * `leadSeconds`: the warning lead setting (FLOE_SHUTDOWN_WARNING_SECONDS), which each
   * timeout fits with `warningLead()` (idle-warning.ts): the page warns before a lifetime
   * stop with it; 0 when warnings are off.
   */
  | { t: 'idle'; secondsLeft: number | null; leadSeconds: number }
  | {
      t: 'stats';
      /** Frames encoded per second over the last interval. */
      fps: number;
      /** Mean encoder time per frame, ms. */
      encodeMs: number;
      /** Mean time from capture to encoded (capture, colour conversion, queue, encode), ms. */
      pipelineMs: number;
      /** Target bitrate the streamer is encoding at, bits/s. */
      targetBitrate: number;
      /** Bitrate actually sent, bits/s. */
      sentBitrate: number;
      /** Round-trip time from RTCP, ms (null until known). */
      rttMs: number | null;
      codec: VideoCodec;
    };

// ── file transfer: data channel "files" (streamer/src/files/, docs/files.md) ────────────────
//
// A second ordered, reliable data channel, so that a large file never queues behind input.
// Requests and replies are JSON text; file bytes travel as binary messages, each a chunk
// framed by FILE_CHUNK_HEADER: the transfer's id (uint32) and the chunk's offset in the file
// (float64, exact to 2^53), both big-endian, then the bytes. An upload resumes where the
// streamer's copy ends: the streamer answers `upload` with the offset to send from.

export const FILES_CHANNEL = 'files';

export const FILE_LIMITS = {
  /** Bytes of file data in one binary message (every browser's SCTP takes 16 KiB). */
  chunkBytes: 16 * 1024,
  /** Bytes of the header before each chunk: id (4) and offset (8). */
  chunkHeader: 12,
  /** Longest name the page may send, in UTF-16 code units (the streamer checks bytes too). */
  maxNameLength: 1024,
  /** Largest size a request may state: 2^53 − 1, where offsets stop being exact. */
  maxSize: Number.MAX_SAFE_INTEGER,
  /** Most transfers a viewer may have open at once. */
  maxOpen: 8,
  /** Most files a listing shows, newest first. */
  maxListed: 500,
} as const;

/** What this session allows, told in `welcome` so the page shows only what works. */
export interface TransferPolicy {
  clipboard: boolean;
  files: boolean;
  /** Largest file either way, bytes; null: no limit but the disk. */
  maxFileBytes: number | null;
  /** Uploads land here and downloads are listed from here, relative to the home. */
  uploadFolder: string;
  downloadFolder: string;
}

export type FileRequest =
  /** Start or resume an upload; `modified` (ms) tells two same-named files apart. */
  | { t: 'upload'; id: number; name: string; size: number; modified: number }
  /** Every byte is sent: the streamer checks the size and keeps the file. */
  | { t: 'upload-end'; id: number }
  /** Stop and delete what arrived. */
  | { t: 'upload-cancel'; id: number }
  /** The files in the download folder. */
  | { t: 'list' }
  | { t: 'download'; id: number; name: string }
  | { t: 'download-cancel'; id: number };

export type FileErrorCode =
  | 'disabled'
  | 'bad_request'
  | 'bad_name'
  | 'too_large'
  | 'quota'
  | 'no_space'
  | 'not_found'
  | 'busy'
  | 'io';

export interface FileEntry {
  name: string;
  size: number;
  /** ms since the epoch */
  modified: number;
}

export type FileReply =
  /** Send from `offset` (0 for a new upload); `name` is the file's name in the folder. */
  | { t: 'upload-ready'; id: number; name: string; offset: number }
  | { t: 'upload-done'; id: number; name: string; size: number }
  | { t: 'listing'; folder: string; files: FileEntry[] }
  | { t: 'download-start'; id: number; name: string; size: number }
  | { t: 'download-end'; id: number }
  /** id null: about no one transfer (the channel itself, a listing) */
  | { t: 'file-error'; id: number | null; code: FileErrorCode; message: string };
