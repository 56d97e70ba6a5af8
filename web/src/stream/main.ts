/**
 * The stream page: wires the connection, the input forwarders, clipboard, resize, stats and
 * the toolbar together. Decisions live in the small pure modules; this file only connects
 * browser events to them.
 */
import type { InputMessage, StreamerMessage } from '@floe/streamer/protocol';
import type { FrameLatency } from './capture-latency.ts';
import { attachCaptureProbe } from './capture-probe.ts';
import { attachClipboard } from './clipboard.ts';
import { type ClockSample, clockOffset } from './clock.ts';
import type { Welcome } from './connection.ts';
import { SIGNAL_PATH } from './contract.ts';
import { askEnded, stateUrl } from './ended.ts';
import { attachFiles } from './files.ts';
import { attachGamepads } from './gamepads.ts';
import { attachKeyboard } from './keyboard.ts';
import type { LocalShortcut } from './keysym.ts';
import { attachMouse } from './mouse.ts';
import { parseOptions, signalUrl } from './params.ts';
import { attachProbe } from './probe.ts';
import { composeReport, reportRows, type StatsReport, type StreamerStats } from './report.ts';
import { displayScaleFor, displaySizeFor, RESIZE_DEBOUNCE_MS } from './resize.ts';
import { type StreamState, startSession } from './session.ts';
import { type GrantRole, makeLink, sessionIdOf, shareWithUser } from './share.ts';
import { readSample, type StatsEntry, type StatsSample, summarize } from './stats.ts';
import { attachTextInput } from './text-input.ts';
import { attachTouch } from './touch.ts';
import { gatewayIceServers } from './turn.ts';
import { findElements, renderRows, renderState, setToggle } from './ui.ts';
import { attachViewers, reportViewerAction } from './viewers.ts';
import { attachWarningBanner } from './warning-banner.ts';

/** What tests and the benchmark read from the page. */
export interface FloeHandle {
  readonly state: StreamState;
  stats(): StatsReport | null;
  /** Measured glass-to-glass samples in ms, oldest first (the last MAX_SAMPLES). */
  latencies: number[];
  /** Barcode samples with their frame's RTP timestamp, to pair with `frames` (tests). */
  probeFrames: { rtpTimestamp: number; ms: number }[];
  /** Glass-to-glass of shown frames from their capture time (any app), oldest first (the last MAX_FRAMES). */
  frames: (FrameLatency & { rtpTimestamp: number })[];
  /** Measure latency (barcode and capture time) even while the overlay is closed. */
  collectLatency: boolean;
  readonly pc: RTCPeerConnection | null;
  /** The page's own zoom of the picture (pinch), 1 when not zoomed. */
  readonly zoom: number;
}

declare global {
  interface Window {
    __floe: FloeHandle;
  }
  interface Navigator {
    /** Keyboard Lock API (Chromium): lets Escape, Alt+Tab… reach the page in fullscreen. */
    keyboard?: { lock(keys?: string[]): Promise<void>; unlock(): void };
  }
}

const MAX_SAMPLES = 100_000;
/** Per-frame records (objects, not numbers) are kept fewer: 20,000 is 5.5 minutes at 60 fps. */
const MAX_FRAMES = 20_000;
/** Samples summarised in the overlay: a few seconds of frames. */
const RECENT_SAMPLES = 300;
/** A measured figure older than this is stale (the probe stopped painting). */
const MEASURED_FRESH_MS = 3000;
/** How often the streamer's clock is probed while latency is being measured. */
const PING_INTERVAL_MS = 2000;
const CLOCK_SAMPLES = 10;
const WAITING_ROWS: [string, string][] = [['stream', 'waiting for the first figures…']];

const ui = findElements();
const options = parseOptions(location.href);

if (options.back) {
  ui.back.href = options.back;
  ui.back.hidden = false;
}
// where an ended session leads: the launcher (index.html's default), or the page's own back link
if (options.back) ui.screenLink.href = options.back;
const askState = stateUrl(location.href);

let welcome: Welcome | null = null;
let media: MediaStream | null = null;
let streamerStats: StreamerStats | null = null;
let latest: StatsReport | null = null;
let statsOpen = options.stats;
let followWindow = true;
let lastResize: { width: number; height: number } | null = null;
let lastSampleAt = 0;
const latencies: number[] = [];
const probeFrames: FloeHandle['probeFrames'] = [];
const frames: FloeHandle['frames'] = [];
let lastFrameAt = 0;
let clockSamples: ClockSample[] = [];
let pingId = 0;
/** The viewer's microphone while it is on: off until the user turns it on. */
let micTrack: MediaStreamTrack | null = null;

const send = (message: InputMessage) => {
  session.send(message);
};

const session = startSession(
  {
    url: signalUrl(location.href, SIGNAL_PATH),
    relay: options.relay,
    codec: options.codec,
    iceServers: () => gatewayIceServers(location.href),
    microphone: () => micTrack,
  },
  {
    state(info) {
      renderState(ui, info);
      // Ready to type into, unless the user is busy elsewhere on the page (the clipboard panel).
      const idle = !document.activeElement || document.activeElement === document.body;
      if (info.state === 'streaming' && idle) ui.stage.focus({ preventScroll: true });
    },
    welcome(w) {
      welcome = w;
      lastResize = null;
      streamerStats = null;
      clockSamples = []; // possibly another machine after a reconnect
      ui.resize.disabled = !w.resizable;
      files.policy(w.transfer);
      // clipboard off: the panel's button goes; the streamer refuses what is sent anyway
      ui.clipboard.hidden = w.transfer?.clipboard === false;
      // A fresh stream per connection: tracks of a torn-down peer connection never resume.
      media = new MediaStream();
      ui.video.srcObject = media;
    },
    track(track) {
      media?.addTrack(track);
      ui.video.play().catch(() => {
        // Autoplay refused (unmuted without a gesture): the mute button starts it.
      });
    },
    channelOpen() {
      sendResize();
      warning.connected();
      gamepads.connected();
    },
    filesChannel(channel) {
      files.channel(channel);
    },
    error(message) {
      ui.status.textContent = message;
    },
    message(message: StreamerMessage) {
      switch (message.t) {
        case 'clipboard':
          clipboard.fromRemote(message.text);
          return;
        case 'refused':
          ui.status.textContent = message.message;
          return;
        case 'stats': {
          const { t: _, ...rest } = message;
          streamerStats = rest;
          return;
        }
        case 'viewers': {
          viewers.update(message);
          ui.viewers.hidden = false;
          ui.viewOnly.hidden = document.body.dataset.control !== 'false';
          // sharing is the owner's, behind a gateway
          ui.shareForm.hidden =
            document.body.dataset.role !== 'owner' || !sessionIdOf(location.href);
          return;
        }
        case 'pong':
          clockSamples = [
            ...clockSamples,
            { sent: message.sent, received: Date.now(), streamerTime: message.streamerTime },
          ].slice(-CLOCK_SAMPLES);
          return;
        case 'idle':
          warning.idle(message);
          return;
        case 'rumble':
          gamepads.rumble(message);
          return;
        default:
          return;
      }
    },
  },
  askState ? () => askEnded(askState) : undefined,
);

const warning = attachWarningBanner({
  parent: ui.stage.parentElement ?? document.body,
  send: (message) => session.send(message),
  stateUrl: askState,
});

// ── input ───────────────────────────────────────────────────────────────────────────────────

// The hidden text input counts too: a hardware key typed while it has the focus (a tablet's
// keyboard cover) goes as a key; only what the browser turns into text reaches text-input.ts.
const capturing = () =>
  document.activeElement === ui.stage ||
  document.activeElement === ui.textInput ||
  document.pointerLockElement === ui.video;

const keyboard = attachKeyboard({
  send,
  capturing,
  shortcut: (which: LocalShortcut) => shortcuts[which](),
});
const mouse = attachMouse({ stage: ui.stage, video: ui.video, send });
const clipboard = attachClipboard({ send, panel: ui.clipboardText });
const files = attachFiles({
  toggle: ui.files,
  panel: ui.filesPanel,
  input: ui.filesInput,
  upload: ui.filesUpload,
  uploadFolder: ui.filesUploadFolder,
  downloadFolder: ui.filesDownloadFolder,
  refresh: ui.filesRefresh,
  transfers: ui.filesTransfers,
  list: ui.filesList,
  message: ui.filesMessage,
  stage: ui.stage,
});
const touch = attachTouch({
  stage: ui.stage,
  video: ui.video,
  send,
  touched: showTouchControls,
  mayFocus: () => document.activeElement !== ui.textInput,
});
attachTextInput({ input: ui.textInput, send });
// a view-only viewer's pads stay with it (the streamer would refuse them anyway)
const gamepads = attachGamepads({
  send: (message) => session.send(message),
  active: () => document.visibilityState === 'visible' && document.body.dataset.control !== 'false',
});

/** The trackpad toggle is shown on a touch device, or once the stage is touched. */
function showTouchControls() {
  ui.trackpad.hidden = false;
}
if (navigator.maxTouchPoints > 0) showTouchControls();
const viewers = attachViewers({
  list: ui.viewersList,
  toggle: ui.viewers,
  send,
  report: (action, user) => reportViewerAction(location.href, action, user),
});

/** Held keys and buttons would stay stuck on the remote when the page stops seeing releases. */
const releaseAll = () => {
  keyboard.reset();
  mouse.reset();
  touch.reset();
};
window.addEventListener('blur', releaseAll);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden') {
    releaseAll();
    gamepads.reset(); // pads are not the keyboard's: a blur leaves them, hiding the page does not
  }
});
// focusout bubbles from the hidden text input inside the stage too; focus moving between the
// two keeps typing on the remote, so only focus leaving both releases what is held.
ui.stage.addEventListener('focusout', (e) => {
  if (!(e.relatedTarget instanceof Node && ui.stage.contains(e.relatedTarget))) releaseAll();
});

// ── toolbar ─────────────────────────────────────────────────────────────────────────────────

const toggleStats = () => {
  statsOpen = !statsOpen;
  ui.stats.hidden = !statsOpen;
  setToggle(ui.statsToggle, 'aria-expanded', statsOpen);
  if (statsOpen) renderRows(ui.statsList, latest ? reportRows(latest) : WAITING_ROWS);
};

const toggleFullscreen = () => {
  if (document.fullscreenElement) void document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
};

const togglePointerLock = () => {
  if (document.pointerLockElement === ui.video) {
    document.exitPointerLock();
    return;
  }
  ui.stage.focus({ preventScroll: true });
  // Unadjusted movement skips the OS's pointer acceleration, which the remote applies again.
  // Older browsers return nothing rather than a promise, and some refuse the option.
  const request = (options?: PointerLockOptions) =>
    Promise.resolve(ui.video.requestPointerLock(options));
  request({ unadjustedMovement: true }).catch(() => request().catch(() => {}));
};

const shortcuts: Record<LocalShortcut, () => void> = {
  stats: toggleStats,
  pointerLock: togglePointerLock,
  fullscreen: toggleFullscreen,
};

ui.statsToggle.addEventListener('click', toggleStats);
ui.fullscreen.addEventListener('click', toggleFullscreen);
ui.pointerLock.addEventListener('click', togglePointerLock);

document.addEventListener('fullscreenchange', () => {
  const on = document.fullscreenElement !== null;
  setToggle(ui.fullscreen, 'aria-pressed', on);
  // In fullscreen the browser may hand system keys (Escape, Alt+Tab) to the page.
  if (on) navigator.keyboard?.lock().catch(() => {});
  else navigator.keyboard?.unlock();
});
document.addEventListener('pointerlockchange', () => {
  const label = document.pointerLockElement === ui.video ? 'Unlock pointer' : 'Lock pointer';
  ui.pointerLock.textContent = label;
  ui.pointerLock.setAttribute('aria-label', label);
});

ui.mute.addEventListener('click', () => {
  ui.video.muted = !ui.video.muted;
  const unmuted = !ui.video.muted;
  ui.mute.textContent = unmuted ? 'Mute' : 'Unmute';
  ui.mute.setAttribute('aria-label', unmuted ? 'Mute audio' : 'Unmute audio');
  ui.video.play().catch(() => {});
});

// getUserMedia exists only in a secure context (https or localhost).
ui.microphone.disabled = !navigator.mediaDevices?.getUserMedia;
ui.microphone.addEventListener('click', async () => {
  if (micTrack) {
    micTrack.stop();
    micTrack = null;
  } else {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      micTrack = stream.getAudioTracks()[0] ?? null;
    } catch (error) {
      ui.status.textContent = `Microphone: ${(error as Error).message}`;
      return;
    }
  }
  setToggle(ui.microphone, 'aria-pressed', micTrack !== null);
  await session.connection?.setMicrophone(micTrack).catch(() => {});
});

ui.clipboard.addEventListener('click', () => {
  const open = ui.clipboardPanel.hidden;
  ui.clipboardPanel.hidden = !open;
  setToggle(ui.clipboard, 'aria-expanded', open);
  if (open) ui.clipboardText.focus();
});
ui.viewers.addEventListener('click', () => {
  const open = ui.viewersPanel.hidden;
  ui.viewersPanel.hidden = !open;
  setToggle(ui.viewers, 'aria-expanded', open);
});
const sharing = (what: Promise<string>) => {
  ui.shareStatus.textContent = 'Sharing…';
  what.then(
    (done) => {
      ui.shareStatus.textContent = done;
    },
    (error: Error) => {
      ui.shareStatus.textContent = `Not shared: ${error.message}`;
    },
  );
};
ui.shareForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const email = ui.shareEmail.value.trim();
  const role = ui.shareRole.value as GrantRole;
  sharing(shareWithUser(location.href, email, role).then(() => `Shared with ${email}.`));
});
ui.shareLink.addEventListener('click', () => {
  const role = ui.shareRole.value as GrantRole;
  sharing(
    makeLink(location.href, role).then((url) => {
      ui.shareUrl.value = url;
      ui.shareUrl.hidden = false;
      ui.shareUrl.select();
      return 'A link for an hour: copy it from the field.';
    }),
  );
});
ui.clipboardSend.addEventListener('click', () => clipboard.offer(ui.clipboardText.value, true));

ui.resize.addEventListener('click', () => {
  followWindow = !followWindow;
  setToggle(ui.resize, 'aria-pressed', followWindow);
  if (followWindow) sendResize();
});

ui.trackpad.addEventListener('click', () => {
  touch.mode = touch.mode === 'trackpad' ? 'direct' : 'trackpad';
  setToggle(ui.trackpad, 'aria-pressed', touch.mode === 'trackpad');
});
// Text mode: the hidden text input takes the keyboard focus in the stage's place. Focusing an
// editable element from a tap is what makes a phone open its keyboard, and what lets an input
// method compose; a click on the picture (which focuses the stage) keeps it there.
let textMode = false;
ui.keyboard.addEventListener('click', () => {
  textMode = !textMode;
  setToggle(ui.keyboard, 'aria-pressed', textMode);
  (textMode ? ui.textInput : ui.stage).focus({ preventScroll: true });
});
ui.stage.addEventListener('focus', () => {
  if (textMode) ui.textInput.focus({ preventScroll: true });
});

ui.screenAction.addEventListener('click', () => session.restart());
ui.stage.addEventListener('click', () => ui.stage.focus({ preventScroll: true }));

ui.stats.hidden = !statsOpen;
setToggle(ui.statsToggle, 'aria-expanded', statsOpen);
renderRows(ui.statsList, WAITING_ROWS);

// ── resize to window ────────────────────────────────────────────────────────────────────────

function sendResize() {
  if (!followWindow || !welcome?.resizable) return;
  const rect = ui.stage.getBoundingClientRect();
  const size = displaySizeFor(rect.width, rect.height, window.devicePixelRatio);
  if (!size || (lastResize?.width === size.width && lastResize.height === size.height)) return;
  // the scale lets the session's DPI follow the browser's, so text is sized as the page's own
  if (session.send({ t: 'resize', ...size, scale: displayScaleFor(window.devicePixelRatio) }))
    lastResize = size;
}

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
new ResizeObserver(() => {
  touch.refit();
  clearTimeout(resizeTimer);
  // Dragging a window edge fires continuously; the remote should resize once at the end.
  resizeTimer = setTimeout(sendResize, RESIZE_DEBOUNCE_MS);
}).observe(ui.stage);

// ── stats and latency ───────────────────────────────────────────────────────────────────────

const measuring = () => statsOpen || window.__floe.collectLatency;

attachProbe({
  video: ui.video,
  active: measuring,
  clockOffset: () => clockOffset(clockSamples) ?? 0,
  sample(ms, rtpTimestamp) {
    latencies.push(ms);
    if (latencies.length > MAX_SAMPLES) latencies.splice(0, latencies.length - MAX_SAMPLES);
    if (rtpTimestamp !== undefined) keep(probeFrames, { rtpTimestamp, ms });
    lastSampleAt = Date.now();
  },
});

attachCaptureProbe({
  video: ui.video,
  receiver: () =>
    session.connection?.pc?.getReceivers().find((r) => r.track.kind === 'video') ?? null,
  active: measuring,
  clockOffset: () => clockOffset(clockSamples) ?? 0,
  sample(frame) {
    keep(frames, frame);
    lastFrameAt = Date.now();
  },
});

function keep<T>(samples: T[], sample: T) {
  samples.push(sample);
  if (samples.length > MAX_FRAMES) samples.splice(0, samples.length - MAX_FRAMES);
}

setInterval(() => {
  if (measuring()) session.send({ t: 'ping', id: ++pingId, sent: Date.now() });
}, PING_INTERVAL_MS);

let previous: StatsSample | null = null;
let previousPc: RTCPeerConnection | null = null;
setInterval(async () => {
  const pc = session.connection?.pc ?? null;
  if (!pc) return;
  if (pc !== previousPc) previous = null; // totals restart with each peer connection
  previousPc = pc;
  let entries: StatsEntry[];
  try {
    entries = [...(await pc.getStats()).values()] as StatsEntry[];
  } catch {
    return; // closed in the meantime
  }
  const sample = readSample(entries);
  const fresh = Date.now() - lastSampleAt < MEASURED_FRESH_MS;
  const framesFresh = Date.now() - lastFrameAt < MEASURED_FRESH_MS;
  latest = composeReport(
    Date.now(),
    summarize(previous, sample),
    streamerStats,
    fresh ? latencies.slice(-RECENT_SAMPLES) : [],
    clockOffset(clockSamples),
    framesFresh ? frames.slice(-RECENT_SAMPLES) : [],
  );
  previous = sample;
  if (statsOpen) renderRows(ui.statsList, reportRows(latest));
}, 1000);

window.__floe = {
  get state() {
    return session.state;
  },
  stats: () => latest,
  latencies,
  probeFrames,
  frames,
  collectLatency: false,
  get pc() {
    return session.connection?.pc ?? null;
  },
  get zoom() {
    return touch.view.scale;
  },
};
