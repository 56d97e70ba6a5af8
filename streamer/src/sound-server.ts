import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface SoundServer {
  /** PULSE_SERVER for the app and the streamer */
  server: string;
  /** the sink apps play into; its monitor is what the streamer captures */
  sink: string;
  process: ChildProcess;
  stop(): void;
}

/** The sink the streamer plays the viewer's microphone into, and the source apps record. */
export const MICROPHONE_SINK = 'floe_microphone_in';
export const MICROPHONE_SOURCE = 'floe_microphone';

/**
 * PulseAudio's arguments for a session: a null sink named `floe` and a socket at `socket`
 * that any client of the session may use (auth-anonymous: the socket's folder is the fence).
 * The local runner and the operator's session pod (a `sound` container) run the same.
 */
export function soundServerArgs(socket: string): string[] {
  return [
    '--daemonize=no',
    '--exit-idle-time=-1',
    '-n', // no default.pa: only what is loaded here
    '--use-pid-file=no',
    '--disable-shm=yes',
    '--log-target=stderr',
    '--log-level=error',
    '--load=module-null-sink sink_name=floe',
    `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
    // The viewer's microphone: the streamer plays it into a sink of its own, and that sink's
    // monitor, remapped to a real source, is the default source apps record from. Silence
    // until the viewer turns the microphone on.
    `--load=module-null-sink sink_name=${MICROPHONE_SINK} rate=48000 channels=1 sink_properties=device.description=Viewer-microphone-in`,
    `--load=module-remap-source source_name=${MICROPHONE_SOURCE} master=${MICROPHONE_SINK}.monitor source_properties=device.description=Viewer-microphone`,
  ];
}

/**
 * A session's own PulseAudio: a null sink and a socket in `dir`, no other clients, no
 * hardware. Null when PulseAudio is not installed or does not come up: sound is optional.
 */
export async function startSoundServer(
  dir: string,
  timeoutMs = 3000,
  /** runs it as this user (its starter being root), which must be able to write in `dir` */
  user?: { uid: number; gid: number },
): Promise<SoundServer | null> {
  const socket = join(dir, 'pulse', 'native');
  const child = spawn(
    'pulseaudio',
    soundServerArgs(socket),
    // its cookie and runtime files go to `dir` rather than the user's home
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, HOME: dir, XDG_RUNTIME_DIR: dir },
      ...user,
    },
  );
  let failed = false;
  child.once('error', () => {
    failed = true;
  });
  child.once('exit', () => {
    failed = true;
  });
  for (const deadline = Date.now() + timeoutMs; !failed && Date.now() < deadline; ) {
    if (existsSync(socket)) {
      return {
        server: `unix:${socket}`,
        sink: 'floe',
        process: child,
        stop: () => child.kill('SIGTERM'),
      };
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  return null;
}
