import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadStreamerConfig } from './config.ts';
import { bareDesktop } from './desktop.ts';
import { copyInterposer } from './gamepad/build.ts';
import { startStreamer } from './streamer.ts';

const HELP = `floe-streamer: streams an X display to one browser over WebRTC.

Usage: npx node streamer/src/main.ts [--bare WIDTHxHEIGHT]

Serves the stream page at /, signalling at /signal, /healthz and /metrics.
  --bare WxH   paint probe frames straight into the encoder instead of capturing X
               (for measuring what capture costs)
  --help       this text

Configuration (environment):
  DISPLAY                        X display to capture and drive (required unless --bare)
  FLOE_STREAMER_PORT / _HOST     listen address (8090, 127.0.0.1)
  FLOE_STREAMER_CODECS           preference, e.g. H264,VP8 (the browser's offer decides among them)
  FLOE_STREAMER_H264_ENCODER     auto | x264enc | nvh264enc (auto uses NVENC when present)
  FLOE_STREAMER_FPS              frames per second (60)
  FLOE_STREAMER_CAPTURE          damage | ximagesrc: X capture when drawn, or on a tick (damage)
  FLOE_STREAMER_CONVERT          libyuv | videoconvert: the damage capture converts what
                                 changed, or GStreamer the whole frame (libyuv)
  FLOE_STREAMER_{MIN,START,MAX}_KBPS  bitrate bounds for congestion control (200, 4000, 12000)
  FLOE_STREAMER_CC_TRACE         append each congestion feedback to this file (JSON lines)
  FLOE_STREAMER_VIEWER_POLICY    takeover | refuse: what a second viewer gets (takeover)
  FLOE_TURN_URLS, FLOE_TURN_SECRET, FLOE_TURN_TTL_SECONDS  TURN servers and their shared secret
  FLOE_TURN_USERNAME, FLOE_TURN_CREDENTIAL  instead of the secret: a credential minted for
                                 this session, offered and used for the probes as is
  FLOE_TURN_HEALTH_INTERVAL_MS   probe each TURN server this often; only healthy ones are
                                 offered (15000; 0 = offer all unprobed)
  FLOE_SESSION_ID                names the session in TURN usernames and logs
  FLOE_VIEWER_ISSUER             the gateway whose viewer tokens open the signalling, with
  FLOE_VIEWER_JWKS_URL           its public keys at a URL, or
  FLOE_VIEWER_JWKS_FILE          in a JWKS file, read again when it changes (unset: anyone
                                 who reaches the port may connect)
  FLOE_STREAMER_CLIPBOARD        on | off: clipboard both ways (on)
  FLOE_STREAMER_FILES            on | off: file upload and download (on; needs a home)
  FLOE_STREAMER_HOME             the session's home: uploads go to its Uploads folder,
                                 its Downloads folder is listed (unset: no file transfer)
  FLOE_STREAMER_MAX_FILE_BYTES   largest file either way (no limit)
  FLOE_STREAMER_MAX_HOME_BYTES   most the home may hold once an upload is in (no limit)
  FLOE_STREAMER_UPLOAD_FOLDER, FLOE_STREAMER_DOWNLOAD_FOLDER  (Uploads, Downloads)
  FLOE_STREAMER_GAMEPAD_DIR      serve the session's gamepads on unix sockets in this folder,
                                 for the app's LD_PRELOAD interposer (docs/gamepads.md;
                                 unset: no gamepads)
  FLOE_STREAMER_GAMEPAD_LIBRARY  the interposer, copied into that folder first (a pod's app
                                 preloads it from there; set in the streamer's image)
  FLOE_STREAMER_WEB_DIR          the built stream page (web/dist/stream)
  FLOE_IDLE_TIMEOUT_SECONDS      the app's idle timeout, to warn viewers before the idle
                                 stop (unset: none); "I'm still here" resets the clock
  FLOE_SHUTDOWN_WARNING_SECONDS  how long before an idle or lifetime stop viewers are warned
                                 (60; half the timeout when that is shorter; 0: never)
  LOG_LEVEL                      pino level (info)
`;

const { values } = parseArgs({
  options: { bare: { type: 'string' }, help: { type: 'boolean' } },
  strict: true,
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const bare = values.bare?.match(/^(\d+)x(\d+)$/);
if (values.bare && !bare) {
  process.stderr.write('--bare takes a size such as 1920x1080\n');
  process.exit(2);
}
let config: ReturnType<typeof loadStreamerConfig>;
try {
  config = loadStreamerConfig(bare ? { DISPLAY: ':0', ...process.env } : process.env);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const log = pino({
  level: config.LOG_LEVEL,
  base: { service: 'floe-streamer', session: config.FLOE_SESSION_ID },
});
// the library first, then the hub's sockets (startStreamer): a pod's startup probe waits for
// both before the kubelet starts the app
if (config.FLOE_STREAMER_GAMEPAD_DIR && config.FLOE_STREAMER_GAMEPAD_LIBRARY) {
  const lib = await copyInterposer(
    config.FLOE_STREAMER_GAMEPAD_LIBRARY,
    config.FLOE_STREAMER_GAMEPAD_DIR,
  );
  log.info({ lib }, 'gamepad interposer in place');
}
const desktop = bare
  ? bareDesktop(Number(bare[1]), Number(bare[2]))
  : await (await import('./x11-desktop.ts')).openX11Desktop(config.DISPLAY, log);
const streamer = await startStreamer(config, desktop, log);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    log.info({ signal }, 'stopping');
    await streamer.close();
    await desktop.close();
    process.exit(0);
  });
}
