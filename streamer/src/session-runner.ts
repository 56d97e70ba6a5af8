/**
 * A local session, like a pod: an X server, the app on it and the streamer, in this
 * process's group. The local cluster driver starts one per session; killing the group ends
 * all of it. Readiness (the streamer's URL) goes to the fd named by FLOE_READY_FD, else stdout.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadStreamerConfig, type StreamerConfig } from './config.ts';
import type { Desktop } from './desktop.ts';
import { startSoundServer } from './sound-server.ts';
import { type Streamer, startStreamer } from './streamer.ts';
import { startDisplayServer } from './x11/display-server.ts';
import { openX11Desktop } from './x11-desktop.ts';

const HELP = `floe-session-runner: runs an app on its own X display with a streamer beside it.

Usage: node streamer/src/session-runner.ts [--width W] [--height H] -- COMMAND [ARGS...]

  --width, --height   initial display size (1280x720); the browser may resize it
  --grace MS          how long the app gets to exit after SIGTERM (5000)
  --window-manager C  the window manager to run first ("none" for none); the default,
                      matchbox, shows one app at a time, maximized, and gives it the
                      keyboard ("matchbox-window-manager -use_titlebar no")
  --help              this text

Prints {"endpoint": "http://127.0.0.1:PORT/"} on fd $FLOE_READY_FD (or stdout) once the
stream is up.
Exits with the app's exit code. The streamer takes its settings from the environment
(see node streamer/src/main.ts --help); FLOE_STREAMER_PORT defaults to a free port here.
`;

const { values, positionals } = parseArgs({
  options: {
    width: { type: 'string', default: '1280' },
    height: { type: 'string', default: '720' },
    grace: { type: 'string', default: '5000' },
    'window-manager': { type: 'string', default: 'matchbox-window-manager -use_titlebar no' },
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
if (!command || !(width > 0) || !(height > 0) || !(grace >= 0)) {
  process.stderr.write(
    `${command ? 'bad --width/--height/--grace' : 'no command given'}\n\n${HELP}`,
  );
  process.exit(2);
}

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
// In the runner's own process group, so that a kill of the group takes the X server with it.
const server = await startDisplayServer({ width, height, workDir, detached: false });
log.info({ display: server.display, resizable: server.resizable }, 'display up');

// The session's own sound server, when PulseAudio is installed: the app plays into a null
// sink, and the streamer sends the sink's monitor to the browser as Opus.
const sound = await startSoundServer(workDir);
if (!sound) log.info('no PulseAudio: the session has no sound');
const sessionEnv = {
  ...process.env,
  DISPLAY: server.display,
  ...(sound && { PULSE_SERVER: sound.server }),
};

// Without a window manager, a new window is neither maximized nor given the keyboard.
const windowManager = values['window-manager']!.split(' ').filter(Boolean);
if (windowManager.length > 0 && windowManager[0] !== 'none') {
  // spawns: matchbox-window-manager (the default --window-manager)
  spawn(windowManager[0]!, windowManager.slice(1), {
    stdio: 'inherit',
    env: sessionEnv,
  }).once('error', (error) => log.warn({ err: error.message }, 'no window manager'));
}

let shuttingDown = false;
let streamer: Streamer | undefined;
let desktop: Desktop | undefined;
// spawns: - (the app's command)
const app: ChildProcess = spawn(command, args, {
  stdio: 'inherit',
  env: sessionEnv,
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
    { ...config, DISPLAY: server.display, PULSE_SERVER },
    desktop,
    log,
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
  writeSync(Number(process.env.FLOE_READY_FD ?? 1), `${JSON.stringify(message)}\n`);
}
