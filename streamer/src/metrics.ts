import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type StreamerMetrics = ReturnType<typeof createStreamerMetrics>;

/** One registry per streamer (tests run several in one process). */
export function createStreamerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
  return {
    registry,
    viewers: gauge('floe_streamer_viewers', 'Viewers connected (0 or 1: one viewer is in control)'),
    fps: gauge('floe_streamer_fps', 'Frames encoded per second, last interval'),
    encodeSeconds: new Histogram({
      name: 'floe_streamer_encode_seconds',
      help: 'Mean encoder time per frame, observed once per stats interval',
      buckets: [0.001, 0.002, 0.004, 0.008, 0.016, 0.033, 0.066],
      registers: [registry],
    }),
    frameDelaySeconds: new Histogram({
      name: 'floe_streamer_frame_delay_seconds',
      help: "Time from a frame's capture to its last packet handed to the viewers' connections (capture, conversion, encoding, packetizing)",
      buckets: [
        0.002, 0.004, 0.006, 0.008, 0.01, 0.0125, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.1, 0.25,
      ],
      registers: [registry],
    }),
    targetBitrate: gauge('floe_streamer_target_bitrate_bps', 'Bitrate the encoder aims at'),
    sentBitrate: gauge('floe_streamer_sent_bitrate_bps', 'Video bitrate sent, last interval'),
    rtt: gauge('floe_streamer_rtt_seconds', 'Round-trip time to the viewer from RTCP'),
    lastInput: gauge(
      'floe_streamer_last_input_timestamp_seconds',
      'Unix time of the last input event from a viewer (for idle shutdown)',
    ),
    inputEvents: new Counter({
      name: 'floe_streamer_input_events_total',
      help: 'Input messages by type; type="invalid" counts those refused',
      labelNames: ['type'],
      registers: [registry],
    }),
    keyframes: new Counter({
      name: 'floe_streamer_keyframes_requested_total',
      help: "Keyframes forced, by reason (pli: a viewer asked; loss: an outage or an overflowed queue ended; step: a viewer's link narrowed suddenly; join, connect, restart)",
      labelNames: ['reason'],
      registers: [registry],
    }),
    fileBytes: new Counter({
      name: 'floe_streamer_file_bytes_total',
      help: 'File bytes moved by direction (upload, download)',
      labelNames: ['direction'],
      registers: [registry],
    }),
    connections: new Counter({
      name: 'floe_streamer_connections_total',
      help: 'Signalling connections by outcome (accepted, refused, taken_over, unauthorized)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
