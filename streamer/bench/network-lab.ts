/**
 * The bad-network lab shared by bench/network.ts and test/e2e-network.test.ts: Chromium in a
 * network namespace of its own (testbed netns.ts), reaching coturn and the stream page only
 * through a shaped veth and a delay line; the streamer on the host side, sending the bare
 * source's noise (every bit it is given is used) through coturn. A scenario is a list of
 * phases, each a link shape held for some seconds; what the page showed and what the sender
 * aimed at are recorded with wall-clock times and cut into the phases afterwards.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createShapedLink,
  type LinkShape,
  launchChromium,
  startCoturn,
  startDelayLine,
} from '@floe/testbed';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { loadStreamerConfig } from '../src/config.ts';
import type { TraceEntry } from '../src/congestion/twcc-sender.ts';
import { bareDesktop } from '../src/desktop.ts';
import { startStreamer } from '../src/streamer.ts';

export interface Phase {
  name: string;
  seconds: number;
  link: LinkShape;
  /** one-way delay and jitter, ms */
  delay?: { delayMs: number; jitterMs: number };
}

export interface Recording {
  /** the frame rate painted and encoded */
  fps: number;
  /** Date.now() at each phase's start, and the end of the last */
  boundaries: number[];
  /** wall-clock ms of each frame the page presented */
  frames: number[];
  /** [wall-clock ms, bytes received] sampled every 100 ms */
  bytes: [number, number][];
  /** glass-to-glass samples (ms) with the wall-clock ms they were read at */
  latencies: [number, number][];
  /** [wall-clock ms, target kbps] from each transport-wide feedback */
  targets: [number, number][];
  /** the trace lines themselves (the estimator's test fixtures are cut from these) */
  trace: TraceEntry[];
}

export interface Lab {
  run(
    phases: Phase[],
    opts?: { fps?: number; width?: number; height?: number },
  ): Promise<Recording>;
  close(): Promise<void>;
}

export const BASE_KBIT = 5000;

export async function openLab(webDir: string): Promise<Lab> {
  const link = await createShapedLink();
  const stops: (() => Promise<unknown>)[] = [() => link.close()];
  const closeAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const turn = await startCoturn({ relayPorts: 64 });
    stops.push(() => turn.stop());
    const delay = await startDelayLine({
      host: link.hostIp,
      target: { host: turn.host, port: turn.port },
      delayed: link.viewerIp,
    });
    stops.push(() => delay.close());
    const browser: Browser = await launchChromium([], link.chromium);
    stops.push(() => browser.close());
    const work = mkdtempSync(join(tmpdir(), 'floe-netlab-'));
    stops.push(async () => rmSync(work, { recursive: true, force: true }));
    let runs = 0;
    return {
      async run(phases, opts = {}) {
        const trace = join(work, `trace-${runs++}.jsonl`);
        return runScenario({ link, delay, browser, webDir, phases, trace, turn, opts });
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }

  async function runScenario(args: {
    link: Awaited<ReturnType<typeof createShapedLink>>;
    delay: Awaited<ReturnType<typeof startDelayLine>>;
    browser: Browser;
    webDir: string;
    phases: Phase[];
    trace: string;
    turn: Awaited<ReturnType<typeof startCoturn>>;
    opts: { fps?: number; width?: number; height?: number };
  }): Promise<Recording> {
    const { link, delay, browser, phases, turn } = args;
    const width = args.opts.width ?? 1280;
    const height = args.opts.height ?? 720;
    const fps = args.opts.fps ?? 30;
    const local: (() => Promise<unknown>)[] = [];
    process.env.FLOE_BARE_NOISE = '1'; // read by the pipeline it starts
    try {
      await link.shape({ rateKbit: BASE_KBIT });
      delay.set({ delayMs: 0, jitterMs: 0 });
      const config = loadStreamerConfig({
        DISPLAY: ':0', // unused by the bare source
        FLOE_STREAMER_HOST: link.hostIp,
        FLOE_STREAMER_PORT: '0',
        FLOE_STREAMER_CODECS: 'H264',
        FLOE_STREAMER_H264_ENCODER: 'x264enc',
        FLOE_STREAMER_FPS: String(fps),
        FLOE_STREAMER_WEB_DIR: args.webDir,
        FLOE_STREAMER_AUDIO: 'off',
        FLOE_STREAMER_CC_TRACE: args.trace,
        FLOE_TURN_URLS: `turn:${link.hostIp}:${delay.port}`,
        FLOE_TURN_SECRET: turn.secret,
      });
      const streamer = await startStreamer(
        config,
        bareDesktop(width, height),
        pino({ level: 'error' }, pino.destination(2)),
      );
      local.push(() => streamer.close());
      const page = await browser.newPage({ viewport: { width, height: height + 80 } });
      local.push(() => page.close());
      await page.goto(`${streamer.url}?codec=H264&relay=1`);
      await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
        timeout: 60_000,
      });
      await page.evaluate(RECORDER);
      const boundaries: number[] = [];
      for (const phase of phases) {
        await link.shape(phase.link);
        delay.set(phase.delay ?? { delayMs: 0, jitterMs: 0 });
        boundaries.push(Date.now());
        await sleep(phase.seconds * 1000);
      }
      boundaries.push(Date.now());
      await link.shape({ rateKbit: BASE_KBIT });
      const recorded = await readPage(page);
      const entries = readTrace(args.trace);
      // the trace's clock is performance.now() of this process
      const toWall = (ms: number) => performance.timeOrigin + ms;
      return {
        fps,
        boundaries,
        ...recorded,
        targets: entries.map((e) => [toWall(e.nowMs), e.targetKbps]),
        trace: entries,
      };
    } finally {
      for (const stop of local.reverse()) await stop().catch(() => {});
      await link.shape({}).catch(() => {});
    }
  }
}

function readTrace(path: string): TraceEntry[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TraceEntry);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs in the page: every presented frame's time, the video bytes received every 100 ms,
 * and each glass-to-glass sample with the time it came (the page keeps only the samples).
 */
const RECORDER = () => {
  const w = window as unknown as {
    __floe: { pc: RTCPeerConnection | null; latencies: number[]; collectLatency: boolean };
    __lab: { frames: number[]; bytes: [number, number][]; latencies: [number, number][] };
  };
  const lab = {
    frames: [] as number[],
    bytes: [] as [number, number][],
    latencies: [] as [number, number][],
  };
  w.__lab = lab;
  w.__floe.collectLatency = true;
  const video = document.querySelector('video')!;
  const onFrame = (now: number) => {
    lab.frames.push(performance.timeOrigin + now);
    const l = w.__floe.latencies;
    while (seen < l.length) lab.latencies.push([Date.now(), l[seen++]!]);
    video.requestVideoFrameCallback(onFrame);
  };
  let seen = w.__floe.latencies.length;
  video.requestVideoFrameCallback(onFrame);
  setInterval(async () => {
    const pc = w.__floe.pc;
    if (!pc) return;
    for (const s of (await pc.getStats()).values())
      if (s.type === 'inbound-rtp' && s.kind === 'video')
        lab.bytes.push([Date.now(), s.bytesReceived]);
  }, 100);
};

async function readPage(page: Page) {
  return page.evaluate(() => {
    const lab = (
      window as unknown as { __lab: Omit<Recording, 'boundaries' | 'targets' | 'trace'> }
    ).__lab;
    return { frames: lab.frames, bytes: lab.bytes, latencies: lab.latencies };
  });
}

/** What one phase of a recording shows. */
export interface PhaseFigures {
  fps: number;
  /** the longest time between two presented frames, ms (from the last frame before the phase) */
  longestGapMs: number;
  /** from the phase's start to its first presented frame, ms */
  firstFrameMs: number | null;
  /** time in gaps counted as freezes (WebRTC's rule, at the nominal frame time: > max(3 × it, it + 150 ms)) */
  frozenMs: number;
  receivedKbps: number;
  /** the sender's lowest target, kbps; null without transport-wide feedback */
  minTargetKbps: number | null;
  g2gP50: number | null;
  g2gP95: number | null;
}

export function phaseFigures(rec: Recording, index: number): PhaseFigures {
  const from = rec.boundaries[index]!;
  const to = rec.boundaries[index + 1]!;
  const frames = rec.frames.filter((t) => t >= from && t < to);
  // a gap counts from the last frame before the phase (a freeze that began at its start)
  const before = rec.frames.filter((t) => t < from).at(-1);
  const times = before === undefined ? frames : [before, ...frames];
  times.push(to);
  const gaps = times.slice(1).map((t, i) => t - times[i]!);
  const mean = 1000 / rec.fps;
  const freezeOver = Math.max(3 * mean, mean + 150);
  const bytesIn = rec.bytes.filter(([t]) => t >= from && t < to);
  const kbps =
    bytesIn.length >= 2
      ? ((bytesIn.at(-1)![1] - bytesIn[0]![1]) * 8) / (bytesIn.at(-1)![0] - bytesIn[0]![0])
      : 0;
  const targets = rec.targets.filter(([t]) => t >= from && t < to).map(([, k]) => k);
  const g2g = rec.latencies
    .filter(([t]) => t >= from && t < to)
    .map(([, ms]) => ms)
    .sort((a, b) => a - b);
  const q = (p: number) =>
    g2g.length === 0 ? null : g2g[Math.min(g2g.length - 1, Math.floor(p * g2g.length))]!;
  return {
    fps: frames.length / ((to - from) / 1000),
    longestGapMs: Math.max(0, ...gaps),
    firstFrameMs: frames.length > 0 ? frames[0]! - from : null,
    frozenMs: gaps.filter((g) => g > freezeOver).reduce((s, g) => s + g, 0),
    receivedKbps: kbps,
    minTargetKbps: targets.length > 0 ? Math.min(...targets) : null,
    g2gP50: q(0.5),
    g2gP95: q(0.95),
  };
}

/**
 * How long after phase `index` began the received rate (over 500 ms windows) came back to
 * 90 % of what phase `reference` averaged; null if it never did within the phase.
 */
export function recoveryMs(rec: Recording, index: number, reference: number): number | null {
  const wanted = 0.9 * phaseFigures(rec, reference).receivedKbps;
  const from = rec.boundaries[index]!;
  const to = rec.boundaries[index + 1]!;
  const samples = rec.bytes.filter(([t]) => t >= from && t < to);
  for (let i = 0; i < samples.length; i++) {
    const j = samples.findIndex(([t]) => t >= samples[i]![0] + 500);
    if (j < 0) break;
    const kbps = ((samples[j]![1] - samples[i]![1]) * 8) / (samples[j]![0] - samples[i]![0]);
    if (kbps >= wanted) return samples[i]![0] - from;
  }
  return null;
}
