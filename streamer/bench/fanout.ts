/**
 * Viewer fan-out (issue 19): one session at 1080p watched by 1, 5 and 20 viewers at once,
 * all fed by one capture and one encode. What an extra viewer costs the streamer (its Node
 * process: werift's SRTP and sending per peer; the GStreamer pipeline should not change),
 * and what each viewer gets: glass-to-glass latency in Chromium, and for the headless viewers
 * how much later each receives a frame than the first viewer to get it.
 *
 * Viewers: N−1 headless werift receivers (fanout-viewers.ts: they signal like the page and
 * do not decode, so twenty fit on this machine), and one headless Chromium running the real
 * stream page, which joins last (so the fan-out writes to it last) and measures latency as
 * bench/latency.ts does (the probe app paints the time as a barcode each frame). The N = 1
 * run is the peer every other run is compared with, in the same invocation.
 *
 *   npm run bench:fanout -- [--viewers 1,5,20] [--frames 300] [--fps 30] [--repeat 1] [--pli-ms N]
 *
 * --pli-ms N: one headless viewer asks for a keyframe every N ms (a viewer on a lossy link):
 * the keyframes sent and what the others receive show what it costs them.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium } from '@floe/testbed';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import { loadStreamerConfig } from '../src/config.ts';
import { startStreamer } from '../src/streamer.ts';
import { startDisplayServer } from '../src/x11/display-server.ts';
import { openX11Desktop } from '../src/x11-desktop.ts';
import { type CpuSnapshot, cpuBetween, cpuSnapshot, stopChild } from './cpu.ts';
import './page-globals.ts';

const { values } = parseArgs({
  options: {
    viewers: { type: 'string', default: '1,5,20' },
    frames: { type: 'string', default: '300' },
    fps: { type: 'string', default: '30' },
    width: { type: 'string', default: '1920' },
    height: { type: 'string', default: '1080' },
    repeat: { type: 'string', default: '1' },
    'pli-ms': { type: 'string', default: '0' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(`CPU per extra viewer and each viewer's latency, for one session watched by several
viewers from one capture and one encode (see docs/benchmarks.md).

  --viewers LIST  viewer counts to run (1,5,20)
  --frames N      frames measured per count (300)
  --fps N         the probe app's frame rate (30)
  --width N, --height N   the display's size (1920×1080)
  --repeat N      runs per count (1)
  --pli-ms N      the first headless viewer asks a keyframe every N ms, as on a lossy link (0: never)
  --help          this text
`);
  process.exit(0);
}
const COUNTS = values.viewers.split(',').map(Number);
const FRAMES = Number(values.frames);
const FPS = Number(values.fps);
const WIDTH = Number(values.width);
const HEIGHT = Number(values.height);
const REPEAT = Number(values.repeat);
const WARMUP_FRAMES = 60;
const PLI_MS = Number(values['pli-ms']);

const log = pino({ level: 'warn' });
const work = mkdtempSync(join(tmpdir(), 'floe-fanout-'));
const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
const browser = await launchChromium();
const rows: Row[] = [];
try {
  for (let i = 0; i < REPEAT; i++) {
    for (const n of COUNTS) {
      process.stderr.write(`${n} viewer(s): `);
      const row = await run(n);
      rows.push(row);
      process.stderr.write(`${JSON.stringify(row)}\n`);
    }
  }
} finally {
  await browser.close();
  rmSync(work, { recursive: true, force: true });
}
printTable(rows);

interface Row {
  viewers: number;
  g2gP50: number;
  g2gP99: number;
  shownFps: number;
  /** per headless viewer: ms after the first viewer to receive each frame, p50 / p99 */
  lagP50: number[];
  lagP99: number[];
  /** frames per second each headless viewer received */
  receivedFps: number[];
  /** kbit/s each headless viewer received */
  receivedKbps: number[];
  /** keyframes the encoder was asked for per second (PLIs and joins, after rate limiting) */
  keyframesPerSecond: number;
  cpu: Record<string, number>;
}

async function run(n: number): Promise<Row> {
  const stops: (() => Promise<unknown>)[] = [];
  try {
    const server = await startDisplayServer({ width: WIDTH, height: HEIGHT, workDir: work });
    stops.push(() => server.stop());
    // spawns: node (the probe app, as bench/latency.ts runs it)
    const probe = spawn(
      process.execPath,
      [new URL('../probe/probe-app.ts', import.meta.url).pathname, `--fps=${FPS}`],
      { env: { ...process.env, DISPLAY: server.display }, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    stops.push(() => stopChild(probe));
    await waitForLine(probe, '"ready"', 60_000);
    const desktop = await openX11Desktop(server.display, log, { resizable: false });
    stops.push(() => desktop.close());
    const config = loadStreamerConfig({
      DISPLAY: server.display,
      FLOE_STREAMER_PORT: '0',
      FLOE_STREAMER_CODECS: 'H264',
      FLOE_STREAMER_FPS: String(FPS),
      FLOE_STREAMER_WEB_DIR: webDir,
      // no gateway here: every connection is a viewer of its own
      FLOE_STREAMER_VIEWER_POLICY: 'share',
    });
    const streamer = await startStreamer(config, desktop, log);
    stops.push(() => streamer.close());

    let headless: ChildProcess | null = null;
    let report: Promise<string> | null = null;
    if (n > 1) {
      const signal = `${streamer.url.replace('http', 'ws')}signal`;
      // spawns: node (the headless viewers, a process of their own)
      headless = spawn(
        process.execPath,
        [
          new URL('./fanout-viewers.ts', import.meta.url).pathname,
          signal,
          String(n - 1),
          String(PLI_MS),
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      stops.push(() => stopChild(headless!));
      await waitForLine(headless, 'ready', 180_000);
      report = collect(headless);
    }

    const page = await browser.newPage({ viewport: { width: WIDTH, height: HEIGHT + 80 } });
    stops.push(() => page.close());
    await page.goto(`${streamer.url}?codec=H264`);
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 30_000,
    });
    await page.evaluate(() => {
      window.__floe.collectLatency = true;
    });
    await page.waitForFunction((k) => window.__floe.latencies.length >= k, WARMUP_FRAMES, {
      timeout: 60_000,
    });
    const startIndex = await page.evaluate(() => window.__floe.latencies.length);
    const before = cpuSnapshot();
    const keyframesBefore = await keyframes(streamer);
    const started = Date.now();
    await page.waitForFunction((k) => window.__floe.latencies.length >= k, startIndex + FRAMES, {
      timeout: FRAMES * 500,
    });
    const seconds = (Date.now() - started) / 1000;
    const after = cpuSnapshot();
    const keyframesPerSecond = round(((await keyframes(streamer)) - keyframesBefore) / seconds);
    if (process.env.BENCH_DEBUG) {
      const text = await streamer.metrics.registry.metrics();
      process.stderr.write(
        `${text
          .split('\n')
          .filter((l) => l.includes('keyframe'))
          .join('\n')}\n`,
      );
    }
    const measured = await page.evaluate(
      ([from, k]) => window.__floe.latencies.slice(from, from + k),
      [startIndex, FRAMES] as const,
    );
    const windowMs: [number, number] = [started, started + seconds * 1000];
    const cpu = cpuUse(before, after, seconds, {
      xserver: [server.pid],
      app: [probe.pid!],
      viewers: headless?.pid ? [headless.pid] : [],
    });
    let lag: ReturnType<typeof lags> = { p50: [], p99: [], fps: [], kbps: [] };
    if (headless && report) {
      headless.kill('SIGTERM');
      lag = lags(JSON.parse(await report), windowMs);
    }
    const sorted = [...measured].sort((a, b) => a - b);
    return {
      viewers: n,
      g2gP50: round(q(sorted, 0.5)),
      g2gP99: round(q(sorted, 0.99)),
      shownFps: round(measured.length / seconds),
      lagP50: lag.p50,
      lagP99: lag.p99,
      receivedFps: lag.fps,
      receivedKbps: lag.kbps,
      keyframesPerSecond,
      cpu,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

/** Each headless viewer's lag behind the first to receive each frame, within the window. */
function lags(
  records: { frames: number; bytes: number; arrivals: [number, number][] }[],
  [from, to]: [number, number],
) {
  const kbps: number[] = [];
  const firstAt = new Map<number, number>();
  for (const r of records)
    for (const [ts, at] of r.arrivals) firstAt.set(ts, Math.min(firstAt.get(ts) ?? at, at));
  const p50: number[] = [];
  const p99: number[] = [];
  const fps: number[] = [];
  for (const r of records) {
    const inWindow = r.arrivals.filter(([, at]) => at >= from && at <= to);
    const behind = inWindow.map(([ts, at]) => at - firstAt.get(ts)!).sort((a, b) => a - b);
    p50.push(round(q(behind, 0.5)));
    p99.push(round(q(behind, 0.99)));
    fps.push(round(inWindow.length / ((to - from) / 1000)));
    // bytes are counted over the whole run, frames over the window: bytes per frame × fps
    kbps.push(
      round(
        ((r.bytes / Math.max(1, r.frames)) * 8 * (inWindow.length / ((to - from) / 1000))) / 1000,
      ),
    );
  }
  return { p50, p99, fps, kbps };
}

function q(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Keyframes asked of the encoder so far (all reasons), from the streamer's metrics. */
async function keyframes(streamer: {
  metrics: { keyframes: { get(): Promise<{ values: { value: number }[] }> } };
}) {
  const metric = await streamer.metrics.keyframes.get();
  return metric.values.reduce((sum, v) => sum + v.value, 0);
}

function collect(child: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', () => resolve(out.trim().split('\n').pop() ?? '[]'));
  });
}

function waitForLine(child: ChildProcess, needle: string, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new Error(`no "${needle}" in time`)), timeoutMs);
    const onData = (d: Buffer) => {
      buffered += d.toString();
      if (buffered.includes(needle)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited (${code}) before "${needle}"`)));
  });
}

/** Percent of one core per part over the window, and the machine's busy share. */
function cpuUse(
  before: CpuSnapshot,
  after: CpuSnapshot,
  seconds: number,
  pids: Record<string, number[]>,
) {
  const { percent, machine } = cpuBetween(before, after, seconds);
  return {
    streamer: percent((pid) => pid === process.pid),
    pipeline: percent((_, p) => p.ppid === process.pid && p.name.startsWith('python')),
    viewers: percent((pid) => (pids.viewers ?? []).includes(pid)),
    chromium: percent((_, p) => p.name.startsWith('chrom')),
    xserver: percent((pid) => (pids.xserver ?? []).includes(pid)),
    app: percent((pid) => (pids.app ?? []).includes(pid)),
    machine,
  };
}

function printTable(all: Row[]) {
  const base = all.find((r) => r.viewers === 1);
  console.log(
    `| viewers${PLI_MS ? ` (one asks a keyframe every ${PLI_MS} ms)` : ''} | streamer CPU % of a core (vs 1 viewer) | per extra viewer | pipeline CPU | headless viewers CPU | machine | Chromium g2g p50 / p99 ms | shown fps | headless lag behind first p50 / p99 ms (worst viewer) | headless fps received (min) | headless kbit/s (min–max) | keyframes/s |`,
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of all) {
    const ratio = base ? round(r.cpu.streamer! / Math.max(1, base.cpu.streamer!)) : Number.NaN;
    const extra =
      base && r.viewers > 1
        ? `${round((r.cpu.streamer! - base.cpu.streamer!) / (r.viewers - 1))}`
        : '—';
    const worst = (xs: number[]) => (xs.length ? Math.max(...xs) : '—');
    const least = (xs: number[]) => (xs.length ? Math.min(...xs) : '—');
    console.log(
      `| ${r.viewers} | ${r.cpu.streamer} (×${ratio}) | ${extra} | ${r.cpu.pipeline} | ${r.cpu.viewers} | ${r.cpu.machine}% | ${r.g2gP50} / ${r.g2gP99} | ${r.shownFps} | ${worst(r.lagP50)} / ${worst(r.lagP99)} | ${least(r.receivedFps)} | ${least(r.receivedKbps)}–${worst(r.receivedKbps)} | ${r.keyframesPerSecond} |`,
    );
  }
}
