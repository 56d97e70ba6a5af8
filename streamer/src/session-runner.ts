/**
 * A local session, like a pod: an X server, the app on it and the streamer, in this
 * process's group. The local cluster driver starts one per session; killing the group ends
 * all of it. Readiness (the streamer's URL) goes to the fd named by FLOE_READY_FD, else stdout.
 *
 * The app gets none of this process's environment nor descriptors: its environment is made
 * here (PATH, LANG, HOME, DISPLAY, PULSE_SERVER, FLOE_SESSION_ID, the gamepad interposer's
 * LD_PRELOAD and FLOE_GAMEPAD_DIR, and its own settings from FLOE_APP_ENV), its fd 3 is /dev/null, and with --sandbox-home it runs in the box of
 * sandbox.ts (own user, mount, PID and network namespaces), reaching its display and sound
 * server through their sockets only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadStreamerConfig, type StreamerConfig } from './config.ts';
import type { Desktop } from './desktop.ts';
import { buildInterposer } from './gamepad/build.ts';
import {
  DEFAULT_SESSION_UID,
  findCommand,
  SANDBOX_HOME,
  SANDBOX_PATH,
  sandboxArgv,
} from './sandbox.ts';
import { startSoundServer } from './sound-server.ts';
import { openGamepads, type Streamer, startStreamer } from './streamer.ts';
import { startDisplayServer } from './x11/display-server.ts';
import { openX11Desktop } from './x11-desktop.ts';

const HELP = `floe-session-runner: runs an app on its own X display with a streamer beside it.

Usage: npx node streamer/src/session-runner.ts [--width W] [--height H] -- COMMAND [ARGS...]

  --width, --height   initial display size (1280x720); the browser may resize it
  --grace MS          how long the app gets to exit after SIGTERM (5000)
  --window-manager C  the window manager to run first ("none" for none); the default,
                      matchbox, shows one app at a time, maximized, and gives it the
                      keyboard ("matchbox-window-manager -use_titlebar no")
  --sandbox-home DIR  run the app in a sandbox (see sandbox.ts) with DIR as its home
  --sandbox-uid N     the user the sandboxed app runs as when this runs as root (64000)
  --sandbox-ro PATH   a host path the sandboxed app may read (repeatable)
  --sandbox-hide PATH a path inside those it must not see, e.g. Floe's data folder (repeatable)
  --sandbox-device D  a device node the sandboxed app may use, e.g. /dev/dri (repeatable)
  --help              this text

Prints {"endpoint": "http://127.0.0.1:PORT/"} on fd $FLOE_READY_FD (or stdout) once the
stream is up.
Exits with the app's exit code. The streamer takes its settings from the environment
(see node streamer/src/main.ts --help); FLOE_STREAMER_PORT defaults to a free port here.
The app's own settings come as one JSON object in FLOE_APP_ENV; nothing else of this
environment reaches it. The app gets the session's gamepads through an LD_PRELOAD
interposer, built with the machine's C compiler (docs/gamepads.md).
`;

const { values, positionals } = parseArgs({
  options: {
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '720' },
    grace: { type: 'string', default: '5000' },
    'window-manager': { type: 'string', default: 'matchbox-window-manager -use_titlebar no' },
    'sandbox-home': { type: 'string' },
    'sandbox-uid': { type: 'string', default: String(DEFAULT_SESSION_UID) },
    'sandbox-ro': { type: 'string', multiple: true, default: [] },
    'sandbox-hide': { type: 'string', multiple: true, default: [] },
    'sandbox-device': { type: 'string', multiple: true, default: [] },
    help: { type: 'boolean' },
  },
  allowPositionals: true,
  strict: true,
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const [command, ...args] = positionals;
const width = Number(values.width);
const height = Number(values.height);
const grace = Number(values.grace);
const sandboxUid = Number(values['sandbox-uid']);
if (!command || !(width > 0) || !(height > 0) || !(grace >= 0) || !Number.isInteger(sandboxUid)) {
  process.stderr.write(
    `${command ? 'bad --width/--height/--grace/--sandbox-uid' : 'no command given'}\n\n${HELP}`,
  );
  process.exit(2);
}

// What only this runner may use: the readiness descriptor and the app's settings. Children
// get /dev/null at the readiness descriptor's number, so that no app can announce an endpoint.
const readyFd = Number(process.env.FLOE_READY_FD ?? 1);
let appSettings: Record<string, string> = {};
try {
  appSettings = JSON.parse(process.env.FLOE_APP_ENV ?? '{}');
} catch {
  process.stderr.write('FLOE_APP_ENV is not a JSON object\n');
  process.exit(2);
}
delete process.env.FLOE_READY_FD;
delete process.env.FLOE_APP_ENV;
const devNull = openSync('/dev/null', 'r');
const childStdio = (first: 'inherit' | 'ignore') =>
  [
    first,
    'inherit',
    'inherit',
    ...Array.from({ length: Math.max(0, readyFd - 2) }, () => devNull),
  ] as const;

let config: StreamerConfig;
try {
  // DISPLAY is this runner's own, known once the X server is up
  config = loadStreamerConfig({ FLOE_STREAMER_PORT: '0', ...process.env, DISPLAY: ':0' });
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const log = pino({ base: { service: 'floe-session', session: process.env.FLOE_SESSION_ID } });
const workDir = mkdtempSync(join(tmpdir(), 'floe-session-'));
// The servers a sandboxed app talks to (X, PulseAudio) and the window manager, which reads
// the app's windows, run as the sandbox's user when this runs as root: none is privileged.
const user =
  values['sandbox-home'] && process.getuid?.() === 0
    ? { uid: sandboxUid, gid: sandboxUid }
    : undefined;
if (user) chownSync(workDir, user.uid, user.gid);
// In the runner's own process group, so that a kill of the group takes the X server with it.
const server = await startDisplayServer({ width, height, workDir, detached: false, user });
log.info({ display: server.display, resizable: server.resizable }, 'display up');

// The session's own sound server, when PulseAudio is installed: the app plays into a null
// sink, and the streamer sends the sink's monitor to the browser as Opus.
const sound = await startSoundServer(workDir, undefined, user);
if (!sound) log.info('no PulseAudio: the session has no sound');
const sessionEnv = {
  ...process.env,
  DISPLAY: server.display,
  ...(sound && { PULSE_SERVER: sound.server }),
};
// Gamepads (docs/gamepads.md): the streamer serves them in this folder, and the app opens them
// through the interposer in its LD_PRELOAD. No compiler: no gamepads, the rest works.
const interposer = await buildInterposer().catch((error: Error) => {
  log.warn({ err: error.message }, 'no gamepads: the interposer cannot be built');
  return null;
});
const gamepadDir = join(workDir, 'gamepads');
mkdirSync(gamepadDir, { mode: 0o755 });
// served before the app starts: an app looks for its pads once, when it starts
const gamepads = interposer ? await openGamepads(gamepadDir, log) : null;
const gamepadsInside = '/run/floe/gamepads';
const sandboxHome = values['sandbox-home'];
// inside the sandbox, the display's and the sound server's sockets are all the app sees
const pulseInside = '/run/pulse/native';
const displaySocket = `/tmp/.X11-unix/X${server.display.replace(/^[^:]*:/, '').split('.')[0]}`;
const appEnv: Record<string, string> = {
  PATH: SANDBOX_PATH,
  LANG: process.env.LANG ?? 'C.UTF-8',
  HOME: sandboxHome ? SANDBOX_HOME : (process.env.HOME ?? '/tmp'),
  ...appSettings,
  DISPLAY: server.display,
  ...(sound && { PULSE_SERVER: sandboxHome ? `unix:${pulseInside}` : sound.server }),
  ...(process.env.FLOE_SESSION_ID && { FLOE_SESSION_ID: process.env.FLOE_SESSION_ID }),
  ...(interposer &&
    gamepads && {
      // the app's own preloads, if its settings name some, come after ours
      LD_PRELOAD: [interposer, appSettings.LD_PRELOAD].filter(Boolean).join(' '),
      FLOE_GAMEPAD_DIR: sandboxHome ? gamepadsInside : gamepadDir,
    }),
};

// Without a window manager, a new window is neither maximized nor given the keyboard.
const windowManager = values['window-manager']!.split(' ').filter(Boolean);
if (windowManager.length > 0 && windowManager[0] !== 'none') {
  // spawns: matchbox-window-manager (the default --window-manager)
  spawn(windowManager[0]!, windowManager.slice(1), {
    stdio: [...childStdio('inherit')],
    env: sessionEnv,
    ...user,
  }).once('error', (error) => log.warn({ err: error.message }, 'no window manager'));
}

let shuttingDown = false;
let streamer: Streamer | undefined;
let desktop: Desktop | undefined;
const argv = sandboxHome
  ? sandboxArgv([command, ...args], {
      home: sandboxHome,
      uid: sandboxUid,
      readOnly: [...values['sandbox-ro'], ...(interposer && gamepads ? [interposer] : [])],
      hidden: values['sandbox-hide'],
      devices: values['sandbox-device'],
      sockets: [
        { host: displaySocket, inside: displaySocket },
        ...(sound ? [{ host: sound.server.replace(/^unix:/, ''), inside: pulseInside }] : []),
        ...(gamepads ? [{ host: gamepadDir, inside: gamepadsInside }] : []),
      ],
      dieWithParent: true,
    })
  : [command, ...args];
// the sandbox starts whatever it is given; a missing command is the app's failure to start
const missing = sandboxHome && !findCommand(command, appEnv.PATH);
// spawns: - (the app's command, in bwrap when sandboxed)
const app: ChildProcess = spawn(missing ? command : argv[0]!, missing ? args : argv.slice(1), {
  stdio: [...childStdio('ignore')],
  env: appEnv,
});
let appExit: number | null = null;
app.once('error', (error) => {
  log.error({ err: error.message, command }, 'cannot start the app');
  void shutdown(127);
});
app.once('exit', (code, signal) => {
  appExit = code ?? 128;
  log.info({ code, signal }, 'app exited');
  void shutdown(appExit);
});

try {
  desktop = await openX11Desktop(server.display, log, { resizable: server.resizable });
  const { PULSE_SERVER } = sessionEnv;
  streamer = await startStreamer(
    {
      ...config,
      DISPLAY: server.display,
      PULSE_SERVER,
      // file transfer goes into the app's own home (its sandbox's, on the host)
      FLOE_STREAMER_HOME: config.FLOE_STREAMER_HOME ?? sandboxHome ?? appEnv.HOME,
    },
    desktop,
    log,
    { gamepads: gamepads ?? undefined },
  );
  announce({ endpoint: streamer.url });
} catch (error) {
  log.error({ err: (error as Error).message }, 'the streamer did not start');
  app.kill('SIGKILL');
  await shutdown(1);
}

async function shutdown(code: number) {
  if (shuttingDown) return;
  shuttingDown = true;
  await streamer?.close().catch(() => {});
  await desktop?.close().catch(() => {});
  sound?.stop();
  await server.stop().catch(() => {});
  rmSync(workDir, { recursive: true, force: true });
  process.exit(code);
}

process.once('SIGTERM', async () => {
  log.info('stopping the app');
  if (app.exitCode === null && app.signalCode === null) {
    app.kill('SIGTERM');
    const timer = setTimeout(() => app.kill('SIGKILL'), grace);
    await once(app, 'exit');
    clearTimeout(timer);
  }
  await shutdown(appExit ?? 0);
});

function announce(message: object) {
  try {
    writeSync(readyFd, `${JSON.stringify(message)}\n`);
  } catch (err) {
    // the control plane that started us is gone (EPIPE): the session lives on, and the next
    // one adopts it, finding the streamer at the address in our environment
    log.warn({ err }, 'nobody reads readiness');
  }
}
