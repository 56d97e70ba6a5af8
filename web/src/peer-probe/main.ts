/**
 * The latency probe for another streamer's page (the benchmark's peer, e.g. Selkies): injected
 * before the page's own scripts, it reads the probe app's barcode from every frame of every
 * <video> the page shows, with the stream page's own decoder (../stream/probe.ts), so both
 * streamers are measured the same way. It also records the page's RTCPeerConnections, to
 * force TURN relay as `relay=1` does for Floe's page and to read their stats.
 *
 * Set `window.__floeProbeConfig` in an earlier init script; read `window.__floeProbe`.
 */
import { attachProbe } from '../stream/probe.ts';
import { readSample, type StatsEntry, type StatsSample, summarize } from '../stream/stats.ts';

export interface PeerProbeConfig {
  /** Only TURN relay candidates for every peer connection the page makes. */
  relay: boolean;
}

export interface PeerProbe {
  collectLatency: boolean;
  latencies: number[];
  /** Marks the start of the window that `stats()` summarizes. */
  mark(): Promise<void>;
  /** Browser-side figures since `mark()`, shaped like Floe's page's `__floe.stats()`. */
  stats(): Promise<unknown>;
}

declare global {
  interface Window {
    __floeProbeConfig?: PeerProbeConfig;
    __floeProbe: PeerProbe;
  }
}

const config: PeerProbeConfig = window.__floeProbeConfig ?? { relay: false };
const connections: RTCPeerConnection[] = [];
const NativePeerConnection = window.RTCPeerConnection;

class ProbedPeerConnection extends NativePeerConnection {
  constructor(configuration?: RTCConfiguration) {
    super(config.relay ? { ...configuration, iceTransportPolicy: 'relay' } : configuration);
    connections.push(this);
  }
}
window.RTCPeerConnection = ProbedPeerConnection;

const probe: PeerProbe = {
  collectLatency: false,
  latencies: [],
  async mark() {
    marked = await sample();
  },
  async stats() {
    const now = await sample();
    return { browser: now ? summarize(marked, now) : undefined };
  },
};
window.__floeProbe = probe;
let marked: StatsSample | null = null;

/** The stats of the connection that receives video (the page may make others). */
async function sample(): Promise<StatsSample | null> {
  for (const pc of connections.toReversed()) {
    if (pc.connectionState === 'closed') continue;
    const report = await pc.getStats();
    const s = readSample(report.values() as Iterable<StatsEntry>);
    if (s.framesDecoded !== null) return s;
  }
  return null;
}

// The page makes its <video> when it connects, and may replace it: watch for new ones.
const probed = new WeakSet<HTMLVideoElement>();
function attachAll() {
  for (const video of document.querySelectorAll('video')) {
    if (probed.has(video)) continue;
    probed.add(video);
    attachProbe({
      video,
      active: () => probe.collectLatency,
      clockOffset: () => 0,
      sample: (ms) => probe.latencies.push(ms),
    });
  }
}
new MutationObserver(attachAll).observe(document, { childList: true, subtree: true });
