/**
 * Glass-to-glass latency: the probe app paints the time as a barcode every frame, the
 * streamer captures and encodes it, headless Chromium receives it (directly or relayed by
 * coturn), and the stream page decodes the barcode in requestVideoFrameCallback. One machine,
 * one clock. A bare pipeline (frames painted straight into the encoder, no X server, no
 * capture) runs in the same matrix to show what capture costs. Selkies 2.x (./selkies.ts),
 * in its WebRTC mode and its default WebSockets mode, runs on the same display with the same
 * probe app, read by the same decoder injected into its page (web/src/peer-probe).
 *
 *   npm run bench:latency -- [--frames 600] [--codec h264,vp9] [--only 1080,turn] [--json out.json]
 */

import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureSelkies, launchChromium, startCoturn } from '@floe/testbed';
import { buildPeerProbe, buildWeb } from '@floe/web/build';
import { readChromaContrast } from '../probe/colour-detail.ts';
import { VIDEO_CODECS, type VideoCodec } from '../src/protocol.ts';
import { startDisplayServer } from '../src/x11/display-server.ts';
import { type CpuSnapshot, cpuBetween, cpuSnapshot, stopChild } from './cpu.ts';
import './page-globals.ts';
import { type SelkiesMode, startSelkies } from './selkies.ts';

const HELP = `Glass-to-glass latency benchmark of the streamer (see docs/benchmarks.md).

  --frames N     latency samples per configuration (600)
  --fps N        frames per second painted and encoded (60)
  --repeat N     runs per configuration, pooled (3)
  --codec LIST   the codecs to run, comma-separated (h264,vp8,vp9,av1,h264-444,vp9-444: all)
  --only LIST    run only configurations matching every comma-separated word, where
                 a|b matches either, e.g. "1080,H264,turn" or "bare" or
                 "1080p,turn|websocket,x11" (Floe and Selkies through TURN, and
                 Selkies over its WebSocket)
  --servers LIST the streamers to run: floe, selkies-webrtc, selkies-ws (all)
  --capture LIST Floe's X capture: damage, damage-videoconvert (the damage capture
                 with GStreamer's whole-frame conversion), ximagesrc (damage); with
                 several, each x11 case runs with each, named "x11 damage" etc.
  --json FILE    also write the results as JSON
  --help         this text

  BENCH_SELKIES_ARGS   more arguments for Selkies, space-separated
  BENCH_CHROMIUM_ARGS  more arguments for Chromium
  BENCH_CHROMIUM_PATH  a program to start instead of Chromium: a wrapper that starts it,
                       e.g. under nice or taskset
  BENCH_DEBUG=1        print the pages' consoles and Selkies' output
`;

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '600' },
    fps: { type: 'string', default: '60' },
    repeat: { type: 'string', default: '3' },
    codec: { type: 'string', default: VIDEO_CODECS.join(',') },
    only: { type: 'string', default: '' },
    servers: { type: 'string', default: 'floe,selkies-webrtc,selkies-ws' },
    capture: { type: 'string', default: 'damage' },
    json: { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const FRAMES = Number(values.frames);
const FPS = Number(values.fps);
const REPEAT = Number(values.repeat);
const WARMUP_FRAMES = 60;
const CODECS = values.codec.split(',').map((c) => c.trim().toUpperCase());
const unknown = CODECS.filter((c) => !VIDEO_CODECS.includes(c as VideoCodec));
if (unknown.length > 0 || CODECS.length === 0) {
  process.stderr.write(`--codec: ${unknown.join(', ')} is none of ${VIDEO_CODECS.join(', ')}\n`);
  process.exit(2);
}

/** The streamer under test: Floe's, or Selkies in one of its two transports. */
type Server = 'floe' | 'selkies-webrtc' | 'selkies-ws';
const SERVERS: Server[] = ['floe', 'selkies-webrtc', 'selkies-ws'];
const SELKIES_MODES: Record<Exclude<Server, 'floe'>, SelkiesMode> = {
  'selkies-webrtc': 'webrtc',
  'selkies-ws': 'websockets',
};
/** Floe's X captures, as the streamer's settings make them */
const CAPTURE_SETTINGS = {
  damage: { FLOE_STREAMER_CAPTURE: 'damage', FLOE_STREAMER_CONVERT: 'libyuv' },
  'damage-videoconvert': { FLOE_STREAMER_CAPTURE: 'damage', FLOE_STREAMER_CONVERT: 'videoconvert' },
  ximagesrc: { FLOE_STREAMER_CAPTURE: 'ximagesrc' },
} as const;
type Capture = keyof typeof CAPTURE_SETTINGS;
const captures = values.capture.split(',').map((s) => s.trim()) as Capture[];
if (captures.length === 0 || captures.some((c) => !(c in CAPTURE_SETTINGS))) {
  process.stderr.write(
    `--capture: ${values.capture} is not a list of ${Object.keys(CAPTURE_SETTINGS).join(', ')}\n`,
  );
  process.exit(2);
}
const servers = values.servers.split(',').map((s) => s.trim());
const unknownServers = servers.filter((s) => !SERVERS.includes(s as Server));
if (unknownServers.length > 0) {
  process.stderr.write(
    `--servers: ${unknownServers.join(', ')} is none of ${SERVERS.join(', ')}\n`,
  );
  process.exit(2);
}

interface Case {
  name: string;
  width: number;
  height: number;
  codec: VideoCodec;
  /** websocket: Selkies' default transport, a WebSocket on loopback (no TURN) */
  path: 'direct' | 'turn' | 'websocket';
  source: 'x11' | 'bare';
  server: Server;
  /** Floe's X capture (FLOE_STREAMER_CAPTURE) */
  capture: Capture;
}

const cases: Case[] = [];
for (const [width, height] of [
  [1280, 720],
  [1920, 1080],
] as const)
  for (const codec of CODECS as VideoCodec[])
    for (const server of servers as Server[]) {
      // Selkies captures X itself: it has no bare case.
      const sources = server === 'floe' ? (['x11', 'bare'] as const) : (['x11'] as const);
      const paths =
        server === 'selkies-ws' ? (['websocket'] as const) : (['direct', 'turn'] as const);
      for (const path of paths)
        for (const source of sources)
          for (const capture of server === 'floe' && source === 'x11'
            ? captures
            : captures.slice(0, 1)) {
            const named =
              server === 'floe' && source === 'x11' && captures.length > 1 ? ` ${capture}` : '';
            cases.push({
              name: `${height}p ${codec} ${path} ${source}${named}${server === 'floe' ? '' : ` ${server}`}`,
              width,
              height,
              codec,
              path,
              source,
              server,
              capture,
            });
          }
    }
const wanted = values.only.split(',').filter(Boolean);
const selected = cases.filter((c) =>
  wanted.every((w) => w.split('|').some((alt) => c.name.includes(alt))),
);
const selkiesPython = selected.some((c) => c.server !== 'floe') ? ensureSelkies() : '';
const peerProbe = selkiesPython ? await buildPeerProbe() : '';
const SELKIES_EXTRA_ARGS = process.env.BENCH_SELKIES_ARGS?.split(' ').filter(Boolean) ?? [];

/** In the page: where the latency samples are, on Floe's page or on a peer's (peer-probe). */
declare function probeHandle(): { latencies: number[] };
/** prom-client samples the event loop's delay every 10 ms (its default). */
const LAG_SAMPLING_MS = 10;
const PROBE_HANDLE = 'window.probeHandle = () => window.__floeProbe ?? window.__floe;';

const work = mkdtempSync(join(tmpdir(), 'floe-bench-'));
const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
const turn = await startCoturn({ relayPorts: 512 });
const browser = await launchChromium(
  process.env.BENCH_CHROMIUM_ARGS?.split(' ').filter(Boolean),
  process.env.BENCH_CHROMIUM_PATH,
);
const results: Record<string, unknown>[] = [];
// The machine may be shared: its load before and after goes with the figures.
const loadBefore = loadavg();

try {
  for (const c of selected) {
    process.stderr.write(`${c.name}: `);
    // Each run starts every process anew, so the app's, the capture's and the display's
    // 60 Hz clocks meet at a new phase; pooling runs averages over those phases.
    const runs = [];
    for (let i = 0; i < REPEAT; i++) {
      try {
        runs.push(await runCase(c));
      } catch (error) {
        process.stderr.write(`(a run failed: ${(error as Error).message.split('\n')[0]}) `);
      }
    }
    if (runs.length === 0) {
      process.stderr.write('no run completed\n');
      continue;
    }
    const result = summarize(c, runs);
    results.push(result);
    process.stderr.write(
      `p50 ${result.p50} ms (runs ${result.runP50s.join(', ')}), p99 ${result.p99} ms, ${result.fps} fps\n`,
    );
  }
} finally {
  await browser.close();
  await turn.stop();
  rmSync(work, { recursive: true, force: true });
}

printTable(results);
const load = { before: loadBefore.map(round), after: loadavg().map(round) };
console.log(
  `\nload average (1, 5, 15 min): ${load.before.join(', ')} before, ${load.after.join(', ')} after`,
);
if (values.json) writeFileSync(values.json, `${JSON.stringify({ results, load }, null, 2)}\n`);

async function runCase(c: Case) {
  const stops: (() => Promise<unknown>)[] = [];
  try {
    let display = '';
    const pids: Record<string, number[]> = {};
    if (c.source === 'x11') {
      const server = await startDisplayServer({ width: c.width, height: c.height, workDir: work });
      stops.push(() => server.stop());
      display = server.display;
      pids.xserver = [server.pid];
      const probe = spawn(
        process.execPath,
        [new URL('../probe/probe-app.ts', import.meta.url).pathname, `--fps=${FPS}`],
        { env: { ...process.env, DISPLAY: display }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      stops.push(() => stopChild(probe));
      await waitForLine(probe, '"ready"');
      pids.app = [probe.pid!];
    }
    const { page, metricsUrl } =
      c.server === 'floe'
        ? await openFloe(c, display, stops, pids)
        : { page: await openSelkies(c, display, stops, SELKIES_MODES[c.server]), metricsUrl: null };
    // CPU is counted over the measured frames only, after the warm-up.
    // generous: Selkies' page connects only once loaded, which has taken 20 s on a loaded machine
    await page.waitForFunction((n) => probeHandle().latencies.length >= n, WARMUP_FRAMES, {
      timeout: 60_000,
    });
    const countersBefore = metricsUrl ? await streamerCounters(metricsUrl) : null;
    const cpuBefore = cpuSnapshot();
    if (c.server !== 'floe') await page.evaluate(() => window.__floeProbe.mark());
    const started = Date.now();
    const [startIndex, startFrame] = await page.evaluate(() => [
      probeHandle().latencies.length,
      window.__floe?.frames.length ?? 0,
    ]);
    await page.waitForFunction((n) => probeHandle().latencies.length >= n, startIndex + FRAMES, {
      timeout: FRAMES * 200,
    });
    const seconds = (Date.now() - started) / 1000;
    const cpu = cpuUse(cpuBefore, cpuSnapshot(), seconds, pids);
    // a congestion reaction (a cut, a hold for a keyframe) in the window shows as keyframes
    // asked; the frame delay is the streamer's own share of capture → received
    const countersAfter = metricsUrl ? await streamerCounters(metricsUrl) : null;
    const keyframes = Object.fromEntries(
      Object.entries(since(countersBefore?.keyframes ?? {}, countersAfter?.keyframes ?? {})).filter(
        ([, n]) => n > 0,
      ),
    );
    const frameDelay = since(countersBefore?.delay ?? {}, countersAfter?.delay ?? {});
    const measured = await page.evaluate(
      ([from, n]) => probeHandle().latencies.slice(from, from + n),
      [startIndex, FRAMES] as const,
    );
    // the same window measured from each frame's capture time (Floe's page only: any app,
    // capture-latency.ts)
    const fromCapture = await page.evaluate(
      (from) =>
        (window.__floe?.frames ?? [])
          .slice(from)
          .map(({ totalMs, toReceiveMs, toPresentMs, toDisplayMs }) => ({
            totalMs,
            toReceiveMs,
            toPresentMs,
            toDisplayMs,
          })),
      startFrame,
    );
    const stats = (await page.evaluate(() =>
      (window.__floeProbe ?? window.__floe).stats(),
    )) as BrowserStats;
    // whether the picture kept the probe's colour detail (4:4:4), in Floe's and Selkies' pages
    const colourDetail = c.source === 'x11' ? await readChromaContrast(page) : null;
    const run = {
      measured,
      fromCapture,
      seconds,
      stats,
      colourDetail,
      cpu,
      keyframes,
      frameDelay,
      loopHeld: countersAfter?.loopHeld ?? null,
    };
    process.stderr.write(`[${describeRun(run)}] `);
    return run;
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

/** Floe's streamer and its stream page, streaming and collecting latency samples. */
async function openFloe(
  c: Case,
  display: string,
  stops: (() => Promise<unknown>)[],
  pids: Record<string, number[]>,
) {
  // in a process of its own, as in a session (streamer-process.ts)
  const child = fork(
    join(import.meta.dirname, 'streamer-process.ts'),
    c.source === 'x11' ? [] : [`${c.width}x${c.height}`],
    {
      env: {
        ...process.env,
        DISPLAY: display || ':0',
        FLOE_STREAMER_PORT: '0',
        FLOE_STREAMER_CODECS: c.codec,
        FLOE_STREAMER_FPS: String(FPS),
        ...CAPTURE_SETTINGS[c.capture],
        FLOE_STREAMER_WEB_DIR: webDir,
        ...(c.path === 'turn' && { FLOE_TURN_URLS: turn.url, FLOE_TURN_SECRET: turn.secret }),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  stops.push(() => stopChild(child));
  const streamer = await new Promise<{ url: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string }));
    child.once('exit', (code) => reject(new Error(`the streamer exited (${code})`)));
  });
  pids.streamer = [child.pid!];

  const page = await browser.newPage({ viewport: { width: c.width, height: c.height + 80 } });
  stops.push(() => page.close());
  debugConsole(page, stops);
  await page.addInitScript({ content: PROBE_HANDLE });
  const relay = c.path === 'turn' ? '&relay=1' : '';
  await page.goto(`${streamer.url}?codec=${c.codec}${relay}`);
  // generous: on a shared, loaded machine connecting has taken over 20 s
  await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
    timeout: 60_000,
  });
  await page.evaluate(() => {
    window.__floe.collectLatency = true;
  });
  return { page, metricsUrl: `${streamer.url}metrics` };
}

/**
 * From the streamer's Prometheus counters: keyframes asked of its encoder, by reason, and its
 * frame delay histogram (capture → the frame's last packet handed to the connection), by
 * bucket bound in ms.
 */
async function streamerCounters(metricsUrl: string) {
  const text = await (await fetch(metricsUrl)).text();
  const keyframes: Record<string, number> = {};
  for (const m of text.matchAll(
    /^floe_streamer_keyframes_requested_total\{reason="([^"]+)"\} (\S+)$/gm,
  )) {
    keyframes[m[1] as string] = Number(m[2]);
  }
  const delay: Record<string, number> = {};
  for (const m of text.matchAll(
    /^floe_streamer_frame_delay_seconds_bucket\{le="([^"]+)"\} (\S+)$/gm,
  )) {
    delay[m[1] === '+Inf' ? 'Infinity' : String(Number(m[1]) * 1000)] = Number(m[2]);
  }
  // prom-client's event-loop delay since its last read (10 ms sampling, included in the
  // figure): read at the window's start, it covers the window at its end
  const lag = (name: string) => {
    const v = new RegExp(`^nodejs_eventloop_lag_${name}_seconds (\\S+)$`, 'm').exec(text)?.[1];
    return v === undefined ? null : round(Math.max(0, Number(v) * 1000 - LAG_SAMPLING_MS));
  };
  return { keyframes, delay, loopHeld: { p99: lag('p99'), max: lag('max') } };
}

function since(before: Record<string, number>, after: Record<string, number>) {
  return Object.fromEntries(
    Object.entries(after).map(([key, n]) => [key, n - (before[key] ?? 0)] as const),
  );
}

/** The bucket bound (ms) below which a share `p` of the counted frames fell. */
function bucketQuantile(cumulative: Record<string, number>, p: number): number | null {
  const bounds = Object.keys(cumulative)
    .map(Number)
    .sort((a, b) => a - b);
  const total = cumulative.Infinity ?? 0;
  if (total === 0) return null;
  const bound = bounds.find((b) => (cumulative[String(b)] ?? 0) >= p * total);
  return bound ?? null;
}

/**
 * One run in the progress line: its p50 and p99, the streamer's share at the p99 (its
 * histogram's bucket bound), the longest its event loop was held, and the keyframes asked,
 * if any.
 */
function describeRun(r: Pick<Run, 'measured' | 'keyframes' | 'frameDelay' | 'loopHeld'>): string {
  const sorted = [...r.measured].sort((a, b) => a - b);
  const at = (p: number) =>
    round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
  const streamerP99 = bucketQuantile(r.frameDelay, 0.99);
  const asked = Object.entries(r.keyframes).map(([reason, n]) => `${reason} ${n}`);
  return [
    `${at(0.5)}/${at(0.99)} ms`,
    ...(streamerP99 !== null ? [`streamer p99 ≤ ${streamerP99}`] : []),
    ...(r.loopHeld?.max != null ? [`its event loop held ${r.loopHeld.max} ms at most`] : []),
    ...(asked.length ? [`keyframes: ${asked.join(', ')}`] : []),
  ].join(', ');
}

/**
 * Selkies on the same display, its own page in the same browser, with the probe injected
 * before the page's scripts; through TURN the page's connections are held to relay.
 */
async function openSelkies(
  c: Case,
  display: string,
  stops: (() => Promise<unknown>)[],
  mode: SelkiesMode,
) {
  const turnPort = Number(turn.url.split(':').at(-1));
  const selkies = await startSelkies({
    python: selkiesPython,
    display,
    width: c.width,
    height: c.height,
    fps: FPS,
    codec: c.codec,
    mode,
    ...(c.path === 'turn' && { turn: { host: '127.0.0.1', port: turnPort, secret: turn.secret } }),
    workDir: work,
    extraArgs: SELKIES_EXTRA_ARGS,
  });
  stops.push(() => selkies.stop());
  // The page is exactly the display's size, so Selkies shows it 1:1 (it has no toolbar).
  const page = await browser.newPage({ viewport: { width: c.width, height: c.height } });
  stops.push(() => page.close());
  debugConsole(page, stops);
  await page.addInitScript((relay) => {
    window.__floeProbeConfig = { relay };
  }, c.path === 'turn');
  await page.addInitScript({ content: peerProbe });
  await page.addInitScript({ content: PROBE_HANDLE });
  await page.goto(selkies.url);
  await page.evaluate(() => {
    window.__floeProbe.collectLatency = true;
  });
  return page;
}

type Page = Awaited<ReturnType<typeof browser.newPage>>;

function debugConsole(page: Page, stops: (() => Promise<unknown>)[]) {
  const consoleLines: string[] = [];
  page.on('console', (m) => consoleLines.push(m.text()));
  stops.push(async () => {
    if (process.env.BENCH_DEBUG) process.stderr.write(`${consoleLines.join('\n')}\n`);
  });
}

type Run = Awaited<ReturnType<typeof runCase>>;

/** Percentiles over the pooled samples of all runs; the other figures are means of the runs. */
function summarize(c: Case, runs: Run[]) {
  const sorted = runs.flatMap((r) => r.measured).sort((a, b) => a - b);
  const frames = runs.flatMap((r) => r.fromCapture).sort((a, b) => a.totalMs - b.totalMs);
  const captured = frames.map((f) => f.totalMs);
  const quantile = (values: number[], p: number) =>
    round(values[Math.min(values.length - 1, Math.floor(p * values.length))]);
  const q = (p: number) => quantile(sorted, p);
  const mean = (pick: (r: Run) => number | undefined) =>
    round(runs.reduce((sum, r) => sum + (pick(r) ?? Number.NaN), 0) / runs.length);
  const cpu = Object.fromEntries(
    Object.keys(runs[0]!.cpu).map((k) => [
      k,
      Math.round(runs.reduce((sum, r) => sum + r.cpu[k as keyof Run['cpu']], 0) / runs.length),
    ]),
  );
  return {
    case: c.name,
    runs: runs.length,
    samples: sorted.length,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    captureP50: quantile(captured, 0.5),
    captureP99: quantile(captured, 0.99),
    parts: frameParts(frames),
    streamerDelay: pooledDelay(runs),
    runP50s: runs.map((r) =>
      round([...r.measured].sort((a, b) => a - b)[Math.floor(r.measured.length / 2)]),
    ),
    fps: mean((r) => r.measured.length / r.seconds),
    decodedFps: mean((r) => r.stats.browser?.fps),
    pipelineMs: mean((r) => r.stats.streamer?.pipelineMs),
    encodeMs: mean((r) => r.stats.streamer?.encodeMs),
    rttMs: mean((r) => r.stats.browser?.rttMs),
    mbps: mean((r) => (r.stats.browser?.bitrate ?? Number.NaN) / 1e6),
    colourDetail: runs[0]!.colourDetail === null ? '–' : mean((r) => r.colourDetail ?? undefined),
    jitterBufferMs: mean((r) => r.stats.browser?.jitterBufferMs),
    decodeMs: mean((r) => r.stats.browser?.decodeMs),
    candidate:
      c.path === 'websocket' ? 'none (WebSocket)' : (runs[0]!.stats.browser?.candidateType ?? '?'),
    cpu,
  };
}

/** The streamer's frame delay over all runs: p50 and p99 as its histogram's bucket bounds, ms. */
function pooledDelay(runs: Run[]) {
  const pooled: Record<string, number> = {};
  for (const r of runs)
    for (const [bound, n] of Object.entries(r.frameDelay)) pooled[bound] = (pooled[bound] ?? 0) + n;
  return { p50: bucketQuantile(pooled, 0.5), p99: bucketQuantile(pooled, 0.99) };
}

type CapturedFrame = Run['fromCapture'][number];
type FrameParts = ReturnType<typeof frameParts>;

/**
 * Where frames spent their time, by part: capture→received, received→presented,
 * presented→displayed, ms. `typical`: each part's median over all frames; `slowest`: the
 * means of the parts of the slowest 1 % (by glass-to-glass from capture time).
 */
function frameParts(sortedFrames: CapturedFrame[]) {
  const slowest = sortedFrames.slice(Math.floor(0.99 * sortedFrames.length));
  const known = (frames: CapturedFrame[], pick: (f: CapturedFrame) => number | null) =>
    frames.map(pick).filter((v): v is number => v !== null);
  const mean = (values: number[]) =>
    values.length ? round(values.reduce((a, b) => a + b, 0) / values.length) : null;
  const median = (values: number[]) =>
    values.length ? round(values.sort((a, b) => a - b)[Math.floor(values.length / 2)]) : null;
  const parts = (frames: CapturedFrame[], average: (values: number[]) => number | null) => ({
    frames: frames.length,
    total: average(known(frames, (f) => f.totalMs)),
    toReceive: average(known(frames, (f) => f.toReceiveMs)),
    toPresent: average(known(frames, (f) => f.toPresentMs)),
    toDisplay: average(known(frames, (f) => f.toDisplayMs)),
  });
  return { typical: parts(sortedFrames, median), slowest: parts(slowest, mean) };
}

interface BrowserStats {
  browser?: {
    fps?: number;
    rttMs?: number;
    /** video payload received, bits/s */
    bitrate?: number;
    jitterBufferMs?: number;
    decodeMs?: number;
    candidateType?: string;
  };
  streamer?: { encodeMs?: number; pipelineMs?: number };
}

function round(n: number | undefined) {
  return n === undefined || Number.isNaN(n) ? null : Math.round(n * 10) / 10;
}

function waitForLine(child: ChildProcess, needle: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      if (buffered.includes(needle)) resolve();
    });
    child.once('exit', (code) => reject(new Error(`probe app exited (${code})`)));
  });
}

/** Percent of one core per component over the window, and the machine's total busy share. */
function cpuUse(
  before: CpuSnapshot,
  after: CpuSnapshot,
  seconds: number,
  pids: Record<string, number[]>,
) {
  const { percent, machine } = cpuBetween(before, after, seconds);
  return {
    streamer: percent((pid) => (pids.streamer ?? []).includes(pid)),
    // Floe's pipeline is its streamer's child, Selkies (python too) this process's
    pipeline: percent(
      (_, p) => (pids.streamer ?? [process.pid]).includes(p.ppid) && p.name.startsWith('python'),
    ),
    xserver: percent((pid) => (pids.xserver ?? []).includes(pid)),
    app: percent((pid) => (pids.app ?? []).includes(pid)),
    chromium: percent((_, p) => p.name.startsWith('chrom')),
    coturn: percent((_, p) => p.name === 'turnserver'),
    machine,
  };
}

function printTable(rows: Record<string, unknown>[]) {
  const cpuText = (c: Record<string, number>) =>
    `${c.machine}% (streamer ${c.streamer}, gst or selkies ${c.pipeline}, X ${c.xserver}, app ${c.app}, chromium ${c.chromium}, turn ${c.coturn})`;
  console.log(
    '| case | p50 ms (per run) | p90 ms | p99 ms | from capture time p50 / p99 ms | fps shown | fps decoded | Mbit/s received | colour detail (4:4:4 255, 4:2:0 0) | capture→encoded ms | encode ms | RTT ms | jitter buffer ms | decode ms | ICE candidate | CPU, machine (per part, % of a core) |',
  );
  console.log(
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  for (const r of rows)
    console.log(
      `| ${r.case} | ${r.p50} (${(r.runP50s as number[]).join(', ')}) | ${r.p90} | ${r.p99} | ${r.captureP50} / ${r.captureP99} | ${r.fps} | ${r.decodedFps} | ${r.mbps} | ${r.colourDetail} | ${r.pipelineMs} | ${r.encodeMs} | ${r.rttMs} | ${r.jitterBufferMs} | ${r.decodeMs} | ${r.candidate} | ${cpuText(r.cpu as Record<string, number>)} |`,
    );
  const parted = rows.filter((r) => (r.parts as FrameParts).typical.frames > 0);
  if (!parted.length) return;
  console.log(
    '\nWhere the frames spent their time, from capture time, ms: the median of each part over all frames, and the mean of each part over the slowest 1 %:\n\n| case | frames | total | capture → received | received → presented | presented → displayed |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const r of parted) {
    const { typical, slowest } = r.parts as FrameParts;
    const delay = r.streamerDelay as ReturnType<typeof pooledDelay>;
    if (delay.p50 !== null)
      console.log(
        `| ${r.case}, the streamer's share of capture → received (capture → sent, its histogram) | | | p50 ≤ ${delay.p50}, p99 ≤ ${delay.p99} | | |`,
      );
    for (const [label, p] of [
      ['median', typical],
      ['slowest 1 %', slowest],
    ] as const)
      console.log(
        `| ${r.case}, ${label} | ${p.frames} | ${p.total} | ${p.toReceive} | ${p.toPresent} | ${p.toDisplay} |`,
      );
  }
}
