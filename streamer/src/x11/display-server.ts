/**
 * Starts the X server an app draws into: Xorg with the dummy video driver where it can (RandR
 * can then resize the screen to the browser's window), else Xvfb (fixed size). By default the
 * server runs in its own process group so stop() takes along whatever it spawned (xkbcomp).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import {
  accessSync,
  chownSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { normalizeSize, resizeDisplay, screenSize } from './resize.ts';

export interface DisplayServerOptions {
  width: number;
  height: number;
  /** A directory for the server's config and log; a subdirectory is made and removed on stop. */
  workDir: string;
  /** 'xvfb' skips Xorg (tests of the fallback; hosts where Xorg misbehaves). */
  prefer?: 'xorg' | 'xvfb';
  /** Told why Xorg was not used, when it was wanted. */
  log?: (message: string) => void;
  /** How long a server may take to accept clients. */
  startTimeoutMs?: number;
  /**
   * true (default): the server gets its own process group, and stop() ends that group.
   * false: it stays in this process's group, so whoever kills the group ends the server too;
   * stop() then signals the server alone.
   */
  detached?: boolean;
  /**
   * Runs the server as this user (its starter being root): the X server a sandboxed app talks
   * to then holds no privilege. Its folder is given to the user.
   */
  user?: { uid: number; gid: number };
}

export interface DisplayServer {
  /** The DISPLAY value, e.g. ':100'. */
  display: string;
  width: number;
  height: number;
  /**
   * Whether resizeDisplay() can follow the browser to any size: Xorg dummy yes (up to 8K);
   * Xvfb no, it only takes sizes up to the one it started with.
   */
  resizable: boolean;
  kind: 'xorg' | 'xvfb';
  pid: number;
  /** Kills the server's process group, waits for it to exit, removes its files. */
  stop(): Promise<void>;
}

/** Display numbers from here up: low numbers belong to desktops and to people's habits. */
const FIRST_DISPLAY = 100;
const DISPLAY_ATTEMPTS = 100;
const DRIVER_DIRS = [
  '/usr/lib/xorg/modules/drivers',
  '/usr/lib64/xorg/modules/drivers',
  '/usr/lib/x86_64-linux-gnu/xorg/modules/drivers',
  '/usr/lib/aarch64-linux-gnu/xorg/modules/drivers',
  '/usr/local/lib/xorg/modules/drivers',
];

export async function startDisplayServer(opts: DisplayServerOptions): Promise<DisplayServer> {
  const size = normalizeSize(opts.width, opts.height);
  const dir = await mkdtemp(join(opts.workDir, 'x11-'));
  if (opts.user) chownSync(dir, opts.user.uid, opts.user.gid);
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  try {
    const server = await startPreferred(dir, size, opts);
    let stopped: Promise<void> | undefined;
    return {
      ...server,
      // once only: a second kill could hit another process that got the pid since
      stop: () => {
        stopped ??= server.stop().then(removeDir);
        return stopped;
      },
    };
  } catch (err) {
    removeDir();
    throw err;
  }
}

async function startPreferred(
  dir: string,
  size: { width: number; height: number },
  opts: DisplayServerOptions,
): Promise<DisplayServer> {
  if (opts.prefer !== 'xvfb') {
    const xorg = findXorg();
    if (typeof xorg !== 'string') {
      opts.log?.(`Xorg is not usable (${xorg.missing}), using Xvfb (fixed size)`);
    } else {
      try {
        return await startXorg(xorg, dir, size, opts);
      } catch (err) {
        opts.log?.(`Xorg failed to start, using Xvfb (fixed size): ${(err as Error).message}`);
      }
    }
  }
  return startXvfb(dir, size, opts);
}

/** The Xorg binary, or what is missing. The real binary: Debian's wrapper may refuse non-root. */
function findXorg(): string | { missing: string } {
  const binary = ['/usr/lib/xorg/Xorg', '/usr/libexec/Xorg'].find(isExecutable) ?? onPath('Xorg');
  if (!binary) return { missing: 'no Xorg binary' };
  if (!DRIVER_DIRS.some((d) => existsSync(join(d, 'dummy_drv.so')))) {
    return { missing: 'no dummy video driver (xserver-xorg-video-dummy)' };
  }
  return binary;
}

async function startXorg(
  binary: string,
  dir: string,
  size: { width: number; height: number },
  opts: DisplayServerOptions,
): Promise<DisplayServer> {
  const config = join(dir, 'xorg.conf');
  const configDir = join(dir, 'xorg.conf.d');
  await writeFile(config, XORG_CONFIG);
  // an empty directory of our own, so no host snippet under /etc/X11 adds devices or drivers
  await mkdir(configDir);
  // -noreset everywhere: a server resets when its last client leaves, dropping RandR modes and
  // the size with them, which an app restarting on an otherwise idle display would trigger
  const server = await launch(dir, opts, 'xorg', (n) => [
    binary,
    [
      `:${n}`,
      ...['-config', config, '-configdir', configDir, '-logfile', join(dir, 'xorg.log')],
      ...['-noreset', '-nolisten', 'tcp', '-novtswitch', '-displayfd', '3'],
    ],
  ]);
  try {
    // the dummy driver starts at its largest built-in mode; the RandR mode trick sets ours
    const actual = await resizeDisplay(server.display, size.width, size.height);
    return { ...server, ...actual, resizable: true };
  } catch (err) {
    await server.stop();
    throw err;
  }
}

async function startXvfb(
  dir: string,
  size: { width: number; height: number },
  opts: DisplayServerOptions,
): Promise<DisplayServer> {
  const server = await launch(dir, opts, 'xvfb', (n) => [
    'Xvfb',
    [
      `:${n}`,
      ...['-screen', '0', `${size.width}x${size.height}x24`],
      ...['-noreset', '-nolisten', 'tcp', '-displayfd', '3'],
    ],
  ]);
  return { ...server, resizable: false };
}

/**
 * Runs the server on the first free display number from FIRST_DISPLAY. Free means no socket
 * and no lock file; two starters can still pick the same number at once, and then the loser's
 * server exits saying the display is active, and it tries the next number.
 */
async function launch(
  dir: string,
  opts: DisplayServerOptions,
  kind: 'xorg' | 'xvfb',
  command: (n: number) => [string, string[]],
): Promise<DisplayServer> {
  const logPath = join(dir, `${kind}.out`);
  let n = FIRST_DISPLAY;
  for (let attempt = 0; attempt < DISPLAY_ATTEMPTS; attempt++, n++) {
    while (isTaken(n)) n++;
    const [file, args] = command(n);
    const log = openSync(logPath, 'w');
    let child: ChildProcess;
    try {
      // fd 3 is -displayfd: the server writes its display number there once clients can connect
      // spawns: Xorg Xvfb
      child = spawn(file, args, {
        detached: opts.detached ?? true,
        stdio: ['ignore', log, log, 'pipe'],
        ...opts.user,
      });
    } finally {
      closeSync(log);
    }
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      // a binary that cannot be run never exits
      child.once('error', () => child.pid === undefined && resolve());
    });
    const outcome = await waitUntilReady(child, exited, opts.startTimeoutMs ?? 15_000);
    const pid = child.pid;
    const group = opts.detached ?? true;
    const number = n;
    const stop = () => stopServer(child, exited, group, number);
    if (outcome === 'ready' && pid !== undefined) {
      const display = `:${number}`;
      try {
        const { width, height } = await screenSize(display);
        return { display, width, height, resizable: false, kind, pid, stop };
      } catch (err) {
        await stop();
        throw new Error(
          `${kind} on ${display} started but refuses clients: ${(err as Error).message}`,
        );
      }
    }
    await kill(child, exited, group);
    const logTail = kind === 'xorg' ? tail(logPath, join(dir, 'xorg.log')) : tail(logPath);
    // lost the race for this number to another server starting at the same moment
    if (outcome === 'exited' && /already (active|running)/i.test(logTail)) continue;
    throw new Error(
      outcome === 'timeout'
        ? `${kind} did not accept clients on :${n} within ${opts.startTimeoutMs ?? 15_000} ms; log:\n${logTail}`
        : `${kind} exited while starting on :${n}; log:\n${logTail}`,
    );
  }
  throw new Error(`no free X display number in :${FIRST_DISPLAY}..:${n}`);
}

function waitUntilReady(
  child: ChildProcess,
  exited: Promise<void>,
  timeoutMs: number,
): Promise<'ready' | 'exited' | 'timeout'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    const done = (outcome: 'ready' | 'exited') => {
      clearTimeout(timer);
      resolve(outcome);
    };
    let written = '';
    const fd3 = child.stdio[3];
    fd3?.on('data', (chunk: Buffer) => {
      written += chunk.toString();
      if (written.includes('\n')) done('ready');
    });
    fd3?.on('error', () => {});
    child.once('error', () => done('exited'));
    exited.then(() => done('exited'));
  });
}

async function stopServer(child: ChildProcess, exited: Promise<void>, group: boolean, n: number) {
  await kill(child, exited, group);
  // a server killed hard leaves its socket and lock behind; those are ours to remove then
  const lock = `/tmp/.X${n}-lock`;
  try {
    if (Number(readFileSync(lock, 'utf8').trim()) === child.pid) {
      rmSync(`/tmp/.X11-unix/X${n}`, { force: true });
      rmSync(lock, { force: true });
    }
  } catch {}
}

/** SIGTERM to the server (or its group), SIGKILL after 5 s; resolves once it has exited. */
async function kill(child: ChildProcess, exited: Promise<void>, group: boolean) {
  const signal = (s: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(group ? -child.pid : child.pid, s);
    } catch {}
  };
  child.stdio[3]?.destroy();
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
  // the group may still hold a helper the server started (xkbcomp)
  if (group) signal('SIGKILL');
}

function isTaken(n: number): boolean {
  return existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`);
}

/** The last lines of the server's output and, for Xorg, of its own log file. */
function tail(...paths: string[]): string {
  const lines = paths.flatMap((path) => {
    try {
      return readFileSync(path, 'utf8').trim().split('\n').slice(-12);
    } catch {
      return [];
    }
  });
  return lines.filter(Boolean).join('\n') || '(no output)';
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  return (process.env.PATH ?? '')
    .split(delimiter)
    .map((d) => join(d, name))
    .find(isExecutable);
}

// No input devices (XTEST provides ours), no VT switching; the framebuffer can grow to 8K
// (VideoRam in KiB: 7680×4320×4 bytes fit). Monitor ranges wide enough for any mode we add.
export const XORG_CONFIG = `Section "ServerFlags"
  Option "AutoAddDevices" "false"
  Option "AutoEnableDevices" "false"
  Option "DontVTSwitch" "true"
EndSection
Section "Device"
  Identifier "dummy"
  Driver "dummy"
  VideoRam 256000
EndSection
Section "Monitor"
  Identifier "monitor"
  HorizSync 5.0-1000.0
  VertRefresh 5.0-200.0
EndSection
Section "Screen"
  Identifier "screen"
  Device "dummy"
  Monitor "monitor"
  DefaultDepth 24
  SubSection "Display"
    Depth 24
  EndSubSection
EndSection
`;
