/**
 * One capture and one encode for every viewer of a session (issue 19): the video pipeline
 * (and audio's) runs once, and each RTP packet it sends is written to every viewer's own
 * WebRTC peer (each peer encrypts and numbers it for its browser). It starts with the first
 * viewer and stops when the last one leaves.
 *
 * What one encoder for several viewers means, decided here:
 * - Codec: the first viewer's choice; a later viewer must accept it (no_common_codec else).
 * - Keyframes: a picture loss (PLI) of any viewer asks the encoder for a keyframe, which all
 *   of them get; at most one per KEYFRAME_GAP_MS (a burst of PLIs, or a viewer on a lossy
 *   link asking over and over, then costs the others at most ~3 keyframes a second).
 * - Bitrate: each viewer's congestion control says what it can take (bitrate.ts); the
 *   encoder runs at the lowest of those, so the slowest link sets the quality and no viewer
 *   is sent more than it can receive.
 * - Size: the display (and so the encode) has one size; a resize restarts the pipeline and
 *   every peer gets a fresh track (pipeline.ts, peer.ts).
 */
import type { Logger } from 'pino';
import type { StreamerConfig } from './config.ts';
import type { Desktop } from './desktop.ts';
import type { StreamerMetrics } from './metrics.ts';
import type { ViewerPeer } from './peer.ts';
import { PipelineSlot, startPipeline } from './pipeline.ts';
import type { VideoCodec } from './protocol.ts';
import { dpiForScale } from './x11/dpi.ts';

export const KEYFRAME_GAP_MS = 300;

/** What the broadcast needs of a viewer: its peer, and a way to end it. */
export interface BroadcastSink {
  readonly peer: ViewerPeer | null;
  /** the bitrate its link takes, kbps (its congestion control's answer) */
  readonly wantedKbps: number;
  /** the encoder died: the stream is over for it */
  pipelineExited(reason: string): void;
}

/** The rate the shared encoder runs at: what the slowest viewer's link takes. */
export function sharedBitrate(wanted: readonly number[], fallbackKbps: number): number {
  return wanted.length === 0 ? fallbackKbps : Math.min(...wanted);
}

/** Whether a keyframe asked for at `now` is sent, given the last one's time. */
export const keyframeDue = (now: number, last: number) => now - last >= KEYFRAME_GAP_MS;

interface BroadcastContext {
  config: StreamerConfig;
  desktop: Desktop;
  log: Logger;
  metrics: StreamerMetrics;
}

export class Broadcast {
  readonly sinks = new Set<BroadcastSink>();
  codec: VideoCodec | null = null;
  kbps: number;
  stats = { fps: 0, encodeMs: 0, pipelineMs: 0 };
  private readonly video = new PipelineSlot();
  private readonly audio = new PipelineSlot();
  private started: Promise<boolean> | null = null;
  private audioStarted = false;
  private lastKeyframe = 0;
  private resizing: Promise<void> = Promise.resolve();
  private wantedSize: { width: number; height: number } | null = null;
  private wantedDpi: number | null = null;
  closed = false;

  private readonly ctx: BroadcastContext;

  constructor(ctx: BroadcastContext) {
    this.ctx = ctx;
    this.kbps = ctx.config.FLOE_STREAMER_START_KBPS;
  }

  /** Adds a viewer whose peer is answered; starts the pipelines with the first one. */
  async join(sink: BroadcastSink, pulseServer: string | null): Promise<void> {
    this.sinks.add(sink);
    this.started ??= this.startVideo();
    await this.started;
    if (pulseServer !== null && !this.audioStarted) {
      this.audioStarted = true;
      await this.startAudio(pulseServer);
    }
    // a viewer joining a running encode needs a picture to start from
    this.keyframe('join');
  }

  /** Removes a viewer: its peer is fed no more. */
  leave(sink: BroadcastSink): void {
    this.sinks.delete(sink);
  }

  async close() {
    this.closed = true;
    await Promise.allSettled([this.video.close(), this.audio.close()]);
  }

  private forEachPeer(f: (peer: ViewerPeer) => void) {
    for (const sink of this.sinks) if (sink.peer) f(sink.peer);
  }

  /** Starts the video pipeline at the display's size now, stopping the one before. */
  private async startVideo(beforeStart?: () => Promise<void>): Promise<boolean> {
    const { config, desktop, metrics, log } = this.ctx;
    let size = desktop.size();
    const pipeline = await this.video.replace(async () => {
      await beforeStart?.();
      size = desktop.size();
      return startPipeline({
        source: desktop.source,
        display: desktop.display,
        ...size,
        fps: config.FLOE_STREAMER_FPS,
        codec: this.codec!,
        h264Encoder: config.FLOE_STREAMER_H264_ENCODER,
        capture: config.FLOE_STREAMER_CAPTURE,
        convert: config.FLOE_STREAMER_CONVERT,
        kbps: this.kbps,
        python: config.FLOE_STREAMER_PYTHON,
        onRtp: (packet, capturedAtMs) => {
          this.forEachPeer((peer) => peer.writeRtp(packet, capturedAtMs));
          // the RTP marker bit: the frame's last packet, so the whole frame is on its way
          if (capturedAtMs !== undefined && ((packet[1] ?? 0) & 0x80) !== 0)
            metrics.frameDelaySeconds.observe(Math.max(0, Date.now() - capturedAtMs) / 1000);
        },
        onStats: (stats) => {
          metrics.fps.set(stats.fps);
          if (stats.frames > 0) metrics.encodeSeconds.observe(stats.encodeMs / 1000);
          this.stats = stats;
        },
        onExit: (reason) => {
          for (const sink of [...this.sinks]) sink.pipelineExited(reason);
        },
      });
    });
    if (!pipeline) return false;
    log.info({ encoder: pipeline.encoder, ...size, codec: this.codec }, 'pipeline started');
    return true;
  }

  /** Audio is a nicety: without it (no PulseAudio after all) the stream goes on silent. */
  private async startAudio(pulseServer: string) {
    const { config, log } = this.ctx;
    try {
      await this.audio.replace(() =>
        startPipeline({
          source: 'pulse',
          pulseServer,
          display: '',
          width: 0,
          height: 0,
          fps: 0,
          codec: 'H264',
          h264Encoder: 'auto',
          kbps: 96,
          python: config.FLOE_STREAMER_PYTHON,
          onRtp: (packet) => this.forEachPeer((peer) => peer.writeAudioRtp(packet)),
          onExit: (reason) => log.warn({ reason }, 'audio stopped'),
        }),
      );
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'no audio');
    }
  }

  keyframe(reason: string) {
    // A burst of PLIs (every lost packet of one frame, or several viewers) needs only one.
    const now = Date.now();
    if (!keyframeDue(now, this.lastKeyframe)) return;
    this.lastKeyframe = now;
    this.ctx.metrics.keyframes.inc({ reason });
    this.video.pipeline?.keyframe();
  }

  /** Sets the encoder to what the slowest viewer takes, when that is worth a change. */
  retune(worthChanging: (from: number, to: number) => boolean) {
    const next = sharedBitrate(
      [...this.sinks].map((s) => s.wantedKbps),
      this.kbps,
    );
    if (worthChanging(this.kbps, next)) {
      this.kbps = next;
      this.video.pipeline?.setBitrate(next);
    }
  }

  /**
   * Asks for the display to take this size, and the DPI of `scale` (the viewer's
   * devicePixelRatio); the newest request wins.
   */
  requestResize(width: number, height: number, scale?: number) {
    const { desktop, log, metrics } = this.ctx;
    if (!desktop.resizable) return;
    this.wantedSize = { width, height };
    if (scale !== undefined) this.wantedDpi = dpiForScale(scale);
    this.resizing = this.resizing.then(async () => {
      await this.applyDpi();
      const wanted = this.wantedSize;
      this.wantedSize = null;
      if (!wanted || this.closed) return;
      const current = desktop.size();
      if (current.width === wanted.width && current.height === wanted.height) return;
      try {
        const size = await desktop.resize(wanted.width, wanted.height);
        // ximagesrc captures a fixed size, so a new size means a new pipeline; the new tracks
        // are made between the old pipeline's stop and the new one's start.
        const restarted = await this.startVideo(async () => {
          await Promise.all([...this.sinks].map((s) => s.peer?.restartTrack()));
        });
        if (!restarted) return;
        metrics.keyframes.inc({ reason: 'restart' });
        this.forEachPeer((peer) => peer.send({ t: 'display', ...size }));
        log.info(size, 'display resized');
      } catch (error) {
        log.warn({ err: (error as Error).message, wanted }, 'resize failed');
      }
    });
  }

  /** The DPI the viewer's devicePixelRatio asks for, set before the size so a resize keeps it. */
  private async applyDpi() {
    const { desktop, log } = this.ctx;
    const dpi = this.wantedDpi;
    this.wantedDpi = null;
    if (dpi === null || this.closed || !desktop.setDpi) return;
    try {
      await desktop.setDpi(dpi);
      log.debug({ dpi }, 'display DPI');
    } catch (error) {
      log.warn({ err: (error as Error).message, dpi }, 'DPI not set');
    }
  }
}
