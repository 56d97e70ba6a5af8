import { type ChildProcess, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CaptureTimes, parseCaptureStamp } from './capture-time.ts';
import { av1RtpPacketizer, FrameReader } from './encoded-frames.ts';
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
  /** x11: capture when drawn (XDamage) or on a tick (ximagesrc); see floe_pipeline.py */
  capture?: 'damage' | 'ximagesrc';
  /**
   * The damage capture's colour conversion: of the changed rectangles as they are copied
   * (libyuv, the default) or of the whole frame in GStreamer (videoconvert; for comparison).
   */
  convert?: 'libyuv' | 'videoconvert';
  /** Threads of the colour conversion and the encoder (floe_pipeline.py's default: 2). */
  threads?: number;
  kbps: number;
  python: string;
  /**
   * Called with each RTP packet the encoder's payloader produced, and when its frame was
   * captured (ms since the Unix epoch, this host's wall clock) where the pipeline said so.
   */
  onRtp: (packet: Buffer, capturedAtMs?: number) => void;
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
  // Each frame's capture stamp comes on this port just before its first packet.
  const captureTimes = new CaptureTimes();
  socket.on('message', (packet) => {
    const stamp = parseCaptureStamp(packet);
    if (stamp) captureTimes.add(stamp);
    else options.onRtp(packet, captureTimes.of(packet));
  });
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
    `--capture=${options.capture ?? 'damage'}`,
    ...(options.convert ? [`--convert=${options.convert}`] : []),
    ...(options.threads ? [`--threads=${options.threads}`] : []),
    `--kbps=${options.kbps}`,
    `--port=${socket.address().port}`,
    ...(options.pulseServer ? [`--pulse-server=${options.pulseServer}`] : []),
  ];
  // AV1 comes as whole frames on a fourth pipe and is packetized here (encoded-frames.ts).
  const framesPipe = options.codec === 'AV1' && options.source !== 'pulse';
  // spawns: python3
  const child = spawn(options.python, args, {
    stdio: ['pipe', 'pipe', 'pipe', framesPipe ? 'pipe' : 'ignore'],
  });
  if (framesPipe) {
    const reader = new FrameReader();
    const packetize = av1RtpPacketizer();
    (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk))
        for (const p of packetize(frame)) options.onRtp(p, frame.capturedAtMs || undefined);
    });
  }
  // A command written after the process died (before Node saw the exit) fails with EPIPE;
  // the exit itself is reported below, so the lost command is nothing more to report.
  child.stdin!.on('error', () => {});
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
  let encoder: string;
  try {
    encoder = await ready;
  } catch (error) {
    // A pipeline that reported an error may still be running: it is stopped here, not leaked.
    stopping = true;
    child.kill('SIGKILL');
    throw error;
  }

  let stopped: Promise<void> | undefined;
  const send = (command: object) => {
    if (child.exitCode === null && child.stdin!.writable)
      child.stdin!.write(`${JSON.stringify(command)}\n`);
  };
  return {
    encoder,
    setBitrate: (kbps) => send({ cmd: 'bitrate', kbps: Math.round(kbps) }),
    keyframe: () => send({ cmd: 'keyframe' }),
    stop: () => {
      stopped ??= stopChild(child, () => (stopping = true));
      return stopped;
    },
  };
}

/**
 * The one owner of "the current pipeline". Starts and stops run one at a time, in the order
 * asked for, so a start can never overtake a restart or a stop: every pipeline started here
 * is stopped exactly once, and none starts after close().
 */
export class PipelineSlot {
  private current: Pipeline | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** The pipeline running now, if any (a keyframe or bitrate change goes to it). */
  get pipeline(): Pipeline | null {
    return this.current;
  }

  /**
   * Stops the current pipeline, then starts the next with start(); resolves to it, or to
   * null when the slot was closed before its turn came.
   */
  replace(start: () => Promise<Pipeline>): Promise<Pipeline | null> {
    return this.serially(async () => {
      await this.stopCurrent();
      if (this.closed) return null;
      const next = await start();
      if (this.closed) {
        await next.stop();
        return null;
      }
      this.current = next;
      return next;
    });
  }

  /** Stops the current pipeline after whatever is queued, and refuses later starts. */
  close(): Promise<void> {
    this.closed = true;
    return this.serially(() => this.stopCurrent());
  }

  private async stopCurrent() {
    const old = this.current;
    if (!old) return;
    this.current = null;
    await old.stop();
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step);
    this.queue = result.catch(() => {});
    return result;
  }
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
