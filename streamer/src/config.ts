import { z } from 'zod';
import { VIDEO_CODECS } from './protocol.ts';

const list = (s: string) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** One folder directly in the home: a plain name, never a path. */
const homeFolder = z
  .string()
  .regex(/^[\w][\w .-]{0,63}$/, 'a folder name of the home, such as Downloads');

const ConfigSchema = z
  .object({
    FLOE_STREAMER_PORT: z.coerce.number().int().min(0).max(65_535).default(8090),
    FLOE_STREAMER_HOST: z.string().default('127.0.0.1'),
    /** The X display to capture and inject into. */
    DISPLAY: z.string().regex(/^[\w.-]*:\d+(\.\d+)?$/, 'an X display such as :1'),
    /**
     * Codecs in order of preference; the first one the browser's offer has is used. H.264
     * first: it costs the least CPU (docs/benchmarks.md, "Codecs"); an app may prefer others.
     * The full-colour ones last: a browser offers each with its 4:2:0 profile, so they are
     * used only when a viewer's page offers nothing else (`?codec=H264-444`).
     */
    FLOE_STREAMER_CODECS: z
      .string()
      .default('H264,VP8,VP9,AV1,H264-444,VP9-444')
      .transform(list)
      .pipe(z.array(z.enum(VIDEO_CODECS)).min(1)),
    /** H.264 encoder: NVENC when the machine has it (auto), or forced. */
    FLOE_STREAMER_H264_ENCODER: z.enum(['auto', 'x264enc', 'nvh264enc']).default('auto'),
    FLOE_STREAMER_FPS: z.coerce.number().int().min(1).max(240).default(60),
    /**
     * X capture: damage = when the app has drawn, reading only what changed
     * (pipeline/floe_xcapture.py); ximagesrc = the whole screen on a fixed tick.
     */
    FLOE_STREAMER_CAPTURE: z.enum(['damage', 'ximagesrc']).default('damage'),
    /**
     * The damage capture's conversion to I420: libyuv = only what changed, as it is copied;
     * videoconvert = the whole frame in GStreamer (the way before; kept for comparison).
     */
    FLOE_STREAMER_CONVERT: z.enum(['libyuv', 'videoconvert']).default('libyuv'),
    // 200: a link of half a megabit must still carry a picture (issue 18's bad-network goal)
    FLOE_STREAMER_MIN_KBPS: z.coerce.number().int().min(100).default(200),
    FLOE_STREAMER_START_KBPS: z.coerce.number().int().min(100).default(4000),
    FLOE_STREAMER_MAX_KBPS: z.coerce.number().int().min(100).default(12_000),
    /** A file to append each transport-wide feedback to, as JSON lines (bench/network.ts). */
    FLOE_STREAMER_CC_TRACE: z.string().optional(),
    /** Audio from PulseAudio as Opus: auto = when a PulseAudio server is found. */
    FLOE_STREAMER_AUDIO: z.enum(['auto', 'on', 'off']).default('auto'),
    PULSE_SERVER: z.string().optional(),
    XDG_RUNTIME_DIR: z.string().optional(),
    /**
     * What the same user's second connection gets while one is connected: refused, or it
     * takes over; `share`: it watches alongside (each connection a viewer of its own, as
     * several users sharing a session are: benchmarks, a streamer without a gateway).
     */
    FLOE_STREAMER_VIEWER_POLICY: z.enum(['refuse', 'takeover', 'share']).default('takeover'),
    /** TURN servers (turn:/turns: URLs) and the shared secret their credentials are minted from. */
    FLOE_TURN_URLS: z.string().default('').transform(list),
    FLOE_TURN_SECRET: z.string().optional(),
    /**
     * Or a credential minted for this session by whoever started it (the control plane's
     * local runner): the streamer offers it as is and never sees the fleet's secret.
     */
    FLOE_TURN_USERNAME: z.string().min(1).optional(),
    FLOE_TURN_CREDENTIAL: z.string().min(1).optional(),
    FLOE_TURN_TTL_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3600),
    /** How often each TURN server is probed with a real allocation; 0 offers them unprobed. */
    FLOE_TURN_HEALTH_INTERVAL_MS: z.coerce.number().int().min(0).default(15_000),
    /** Names this streamer in TURN usernames and logs. */
    FLOE_SESSION_ID: z
      .string()
      .regex(/^[\w-]{1,64}$/)
      .default('local'),
    /**
     * The gateway whose viewer tokens open the signalling (streamer/src/viewer-token.ts): its
     * issuer and its public keys, at a JWKS URL (a local session) or in a JWKS file (a pod: a
     * ConfigMap the operator keeps current). Unset: anyone who reaches the port may connect
     * (tests, a streamer run by hand); whatever starts sessions for users sets them.
     */
    FLOE_VIEWER_ISSUER: z.url().optional(),
    FLOE_VIEWER_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
    FLOE_VIEWER_JWKS_FILE: z.string().min(1).optional(),
    /**
     * Data-loss prevention, as the session's tenant and app allow (docs/files.md): clipboard
     * both ways, and file transfer into and out of FLOE_STREAMER_HOME. Enforced here, not by
     * the page.
     */
    FLOE_STREAMER_CLIPBOARD: z.enum(['on', 'off']).default('on'),
    FLOE_STREAMER_FILES: z.enum(['on', 'off']).default('on'),
    /** The session's home as this streamer sees it; unset: no file transfer. */
    FLOE_STREAMER_HOME: z.string().min(1).optional(),
    /** Largest file either way, and most the home may hold after an upload (bytes). */
    FLOE_STREAMER_MAX_FILE_BYTES: z.coerce.number().int().min(0).optional(),
    FLOE_STREAMER_MAX_HOME_BYTES: z.coerce.number().int().min(0).optional(),
    /** Folders of the home: uploads land in the first, the second is listed for download. */
    FLOE_STREAMER_UPLOAD_FOLDER: homeFolder.default('Uploads'),
    FLOE_STREAMER_DOWNLOAD_FOLDER: homeFolder.default('Downloads'),
    /**
     * The app's idle timeout, set by whatever starts the session (the local runner, the
     * operator): viewers are warned before the idle stop (idle-warning.ts). Unset: none.
     */
    FLOE_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(1).optional(),
    /** How long before an idle or lifetime stop viewers are warned (see warningLead); 0: never. */
    FLOE_SHUTDOWN_WARNING_SECONDS: z.coerce.number().int().min(0).max(86_400).default(60),
    /**
     * Where the session's gamepads are served to its app (gamepad/hub.ts): a folder the app's
     * LD_PRELOAD interposer connects to (FLOE_GAMEPAD_DIR inside). Unset: no gamepads.
     */
    FLOE_STREAMER_GAMEPAD_DIR: z.string().min(1).optional(),
    /**
     * The interposer the app preloads, copied into FLOE_STREAMER_GAMEPAD_DIR before the hub
     * serves there: in a pod the app's container has its own image, so the library reaches it
     * through the folder they share (the streamer image sets this). Unset: nothing is copied.
     */
    FLOE_STREAMER_GAMEPAD_LIBRARY: z.string().min(1).optional(),
    /** The built stream page (web/dist/stream), served at `/`. */
    FLOE_STREAMER_WEB_DIR: z.string().optional(),
    /** python3 with GStreamer's introspection bindings (Debian python3-gst-1.0). */
    FLOE_STREAMER_PYTHON: z.string().default('/usr/bin/python3'),
    LOG_LEVEL: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info'),
  })
  .refine((c) => c.FLOE_STREAMER_MIN_KBPS <= c.FLOE_STREAMER_START_KBPS, {
    message: 'FLOE_STREAMER_MIN_KBPS must not exceed FLOE_STREAMER_START_KBPS',
  })
  .refine((c) => c.FLOE_STREAMER_START_KBPS <= c.FLOE_STREAMER_MAX_KBPS, {
    message: 'FLOE_STREAMER_START_KBPS must not exceed FLOE_STREAMER_MAX_KBPS',
  })
  .refine(
    (c) =>
      Boolean(c.FLOE_VIEWER_ISSUER) ===
        Boolean(c.FLOE_VIEWER_JWKS_URL || c.FLOE_VIEWER_JWKS_FILE) &&
      !(c.FLOE_VIEWER_JWKS_URL && c.FLOE_VIEWER_JWKS_FILE),
    {
      message:
        'FLOE_VIEWER_ISSUER is set with one of FLOE_VIEWER_JWKS_URL and FLOE_VIEWER_JWKS_FILE',
    },
  )
  .refine((c) => Boolean(c.FLOE_TURN_USERNAME) === Boolean(c.FLOE_TURN_CREDENTIAL), {
    message: 'FLOE_TURN_USERNAME and FLOE_TURN_CREDENTIAL are set together',
  })
  .refine((c) => c.FLOE_TURN_URLS.length === 0 || c.FLOE_TURN_SECRET || c.FLOE_TURN_CREDENTIAL, {
    message:
      'FLOE_TURN_SECRET is required when FLOE_TURN_URLS is set (or FLOE_TURN_USERNAME and FLOE_TURN_CREDENTIAL, a credential minted for this session)',
  });

export type StreamerConfig = z.infer<typeof ConfigSchema>;

/** Parses the environment once; a bad value stops the start with a message naming it. */
export function loadStreamerConfig(env: NodeJS.ProcessEnv = process.env): StreamerConfig {
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || 'config'}: ${i.message}`);
    throw new Error(`invalid streamer configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

/**
 * The PulseAudio server to capture, or null for no audio. `auto` looks where PulseAudio
 * clients look: PULSE_SERVER, then the per-user and system sockets.
 */
export function audioSource(
  config: StreamerConfig,
  exists: (path: string) => boolean,
): string | null {
  if (config.FLOE_STREAMER_AUDIO === 'off') return null;
  if (config.PULSE_SERVER) return config.PULSE_SERVER;
  const sockets = [
    config.XDG_RUNTIME_DIR && `${config.XDG_RUNTIME_DIR}/pulse/native`,
    '/run/pulse/native',
  ].filter((p): p is string => Boolean(p));
  const found = sockets.find(exists);
  if (found) return `unix:${found}`;
  return config.FLOE_STREAMER_AUDIO === 'on' ? '' : null; // '' = PulseAudio's own default
}

/** What the session allows of clipboard and files (protocol.ts TransferPolicy), from config. */
export function transferPolicy(config: StreamerConfig) {
  return {
    clipboard: config.FLOE_STREAMER_CLIPBOARD === 'on',
    files: config.FLOE_STREAMER_FILES === 'on' && config.FLOE_STREAMER_HOME !== undefined,
    maxFileBytes: config.FLOE_STREAMER_MAX_FILE_BYTES ?? null,
    maxHomeBytes: config.FLOE_STREAMER_MAX_HOME_BYTES ?? null,
    uploadFolder: config.FLOE_STREAMER_UPLOAD_FOLDER,
    downloadFolder: config.FLOE_STREAMER_DOWNLOAD_FOLDER,
  };
}
