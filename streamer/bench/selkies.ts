/**
 * Selkies 2.x as the latency benchmark's peer: started on the benchmark's display, with the
 * settings that match Floe's case (codec, frame rate, the display's size locked, no audio,
 * no login, TURN from the same coturn), everything else left at Selkies' defaults.
 * The virtualenv comes from @floe/testbed (ensureSelkies).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '@floe/testbed';
import type { VideoCodec } from '../src/protocol.ts';

/** Selkies' `--mode`: WebSockets is its default, WebRTC the opt-in. */
export type SelkiesMode = 'webrtc' | 'websockets';

/**
 * Selkies' encoder for each of Floe's codecs (software: pixelflux's x264, libvpx, SVT-AV1);
 * the full-colour ones with its `video_fullcolor` setting on.
 */
export const SELKIES_ENCODERS: Record<VideoCodec, string> = {
  H264: 'h264enc',
  VP8: 'vp8enc',
  VP9: 'vp9enc',
  AV1: 'av1enc',
  'H264-444': 'h264enc',
  'VP9-444': 'vp9enc',
};

export interface SelkiesOptions {
  /** The virtualenv's python (ensureSelkies). */
  python: string;
  display: string;
  width: number;
  height: number;
  fps: number;
  codec: VideoCodec;
  mode: SelkiesMode;
  /** TURN by the REST scheme, as Floe's streamer is given it; the browser is held to relay. */
  turn?: { host: string; port: number; secret: string };
  /** A folder for its home (its saved settings), new each run. */
  workDir: string;
  extraArgs?: string[];
}

/** The command line, apart from the python: a pure function, so the matched settings read in one place. */
export function selkiesArgs(o: Omit<SelkiesOptions, 'python' | 'workDir'>, port: number): string[] {
  return [
    '-m',
    'selkies',
    `--mode=${o.mode}`,
    '--addr=127.0.0.1',
    `--port=${port}`,
    '--enable-basic-auth=false',
    '--audio-enabled=false',
    '--microphone-enabled=false',
    '--webcam-enabled=false',
    '--gamepad-enabled=false',
    `--encoder=${SELKIES_ENCODERS[o.codec]}`,
    `--video-fullcolor=${o.codec.endsWith('-444')}`,
    // "N-N" locks the rate (the page could otherwise pick another)
    `--framerate=${o.fps}-${o.fps}`,
    // the display keeps the benchmark's size instead of following the browser's window
    '--manual-resolution=true',
    `--manual-width=${o.width}`,
    `--manual-height=${o.height}`,
    ...(o.turn
      ? [
          `--turn-host=${o.turn.host}`,
          `--turn-port=${o.turn.port}`,
          `--turn-shared-secret=${o.turn.secret}`,
          '--turn-protocol=udp',
          `--stun-host=${o.turn.host}`,
          `--stun-port=${o.turn.port}`,
        ]
      : []),
    ...(o.extraArgs ?? []),
  ];
}

export interface RunningSelkies {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export async function startSelkies(o: SelkiesOptions): Promise<RunningSelkies> {
  const port = await freePort();
  const home = mkdtempSync(join(o.workDir, 'selkies-'));
  // spawns: python3 (the selkies virtualenv's)
  const child = spawn(o.python, selkiesArgs(o, port), {
    env: {
      ...process.env,
      DISPLAY: o.display,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_CACHE_HOME: join(home, '.cache'),
      XDG_DATA_HOME: join(home, '.local', 'share'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // its own process group, so that stop() also ends whatever it started
    detached: true,
  });
  const output: string[] = [];
  const keep = (d: Buffer) => {
    if (process.env.BENCH_DEBUG) process.stderr.write(d);
    output.push(...d.toString().split('\n'));
    output.splice(0, Math.max(0, output.length - 40));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}/`;
  const stop = () => stopGroup(child);
  try {
    await waitForHttp(url, child, 60_000);
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}; its last lines:\n${output.join('\n')}`);
  }
  return { url, pid: child.pid!, stop };
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`selkies exited (${child.exitCode})`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`selkies did not serve ${url} within ${timeoutMs / 1000} s`);
}

async function stopGroup(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {}
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
