import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { VideoCodec } from './protocol.ts';

const SCRIPT = fileURLToPath(new URL('../pipeline/floe_pipeline.py', import.meta.url));

export interface PipelineOptions {
  /**
   * `x11` captures the display; `bare` paints probe frames straight into the encoder;
   * `pulse` captures PulseAudio as Opus (the video options are then ignored).
   */
  source: 'x11' | 'bare' | 'pulse';
  /** PulseAudio server for the `pulse` source; PulseAudio's default when absent. */
  pulseServer?: string;
  display: string;
  width: number;
  height: number;
  fps: number;
  codec: VideoCodec;
  h264Encoder: 'auto' | 'x264enc' | 'nvh264enc';
  kbps: number;
  python: string;
  /** Called with each RTP packet the encoder's payloader produced. */
  onRtp: (packet: Buffer) => void;
  onStats?: (stats: PipelineStats) => void;
  /** The pipeline died on its own (not through stop()). */
  onExit?: (reason: string) => void;
}

export interface PipelineStats {
  frames: number;
  fps: number;
  /** Mean time a frame spent in the encoder, ms. */
  encodeMs: number;
  /** Mean time from leaving the capture element to leaving the encoder, ms. */
  pipelineMs: number;
  bytes: number;
}

export interface Pipeline {
  encoder: string;
  setBitrate(kbps: number): void;
  keyframe(): void;
  stop(): Promise<void>;
}

/**
 * Starts the GStreamer child process (pipeline/floe_pipeline.py) and receives its RTP on a
 * loopback UDP port bound here first, so no other process can take the port in between.
 */
export async function startPipeline(options: PipelineOptions): Promise<Pipeline> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (packet) => options.onRtp(packet));
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  // A burst of a 1080p keyframe is a few hundred packets; do not let the kernel drop them.
  socket.setRecvBufferSize(4 * 1024 * 1024);

  const args = [
    SCRIPT,
    `--source=${options.source}`,
    `--display=${options.display}`,
    `--width=${options.width}`,
    `--height=${options.height}`,
    `--fps=${options.fps}`,
    `--codec=${options.codec}`,
    `--encoder=${options.h264Encoder}`,
    `--kbps=${options.kbps}`,
    `--port=${socket.address().port}`,
    ...(options.pulseServer ? [`--pulse-server=${options.pulseServer}`] : []),
  ];
  // spawns: python3
  const child = spawn(options.python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderrTail = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderrTail = (stderrTail + d.toString()).slice(-2000);
  });
  let stopping = false;
  const ready = new Promise<string>((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let event: { event?: string; encoder?: string; message?: string } & Partial<PipelineStats>;
      try {
        event = JSON.parse(line);
      } catch {
        return;
      }
      if (event.event === 'ready') resolve(event.encoder ?? 'unknown');
      else if (event.event === 'stats') options.onStats?.(event as PipelineStats);
      else if (event.event === 'error') reject(new Error(`pipeline: ${event.message}`));
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      socket.close();
      const reason = `pipeline exited (${signal ?? code}): ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`;
      reject(new Error(reason));
      if (!stopping) options.onExit?.(reason);
    });
  });
  const encoder = await ready;

  const send = (command: object) => {
    if (child.exitCode === null && child.stdin!.writable)
      child.stdin!.write(`${JSON.stringify(command)}\n`);
  };
  return {
    encoder,
    setBitrate: (kbps) => send({ cmd: 'bitrate', kbps: Math.round(kbps) }),
    keyframe: () => send({ cmd: 'keyframe' }),
    stop: () => stopChild(child, () => (stopping = true)),
  };
}

async function stopChild(child: ChildProcess, markStopping: () => void): Promise<void> {
  markStopping();
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.stdin!.end(); // the pipeline stops when its command stream ends
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

/** Which encoders this machine's GStreamer has (NVENC shows up only with an NVIDIA GPU). */
export async function detectEncoders(python: string): Promise<Record<string, boolean>> {
  // spawns: python3
  const child = spawn(python, [SCRIPT, '--probe', '--port=1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`${python} cannot load GStreamer (python3-gst-1.0 missing?)`);
  const { event, ...found } = JSON.parse(out) as Record<string, boolean | string>;
  return found as Record<string, boolean>;
}
