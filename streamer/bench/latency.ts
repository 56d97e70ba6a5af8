/**
 * Glass-to-glass latency: the probe app paints the time as a barcode every frame, the
 * streamer captures and encodes it, headless Chromium receives it (directly or relayed by
 * coturn), and the stream page decodes the barcode in requestVideoFrameCallback. One machine,
 * one clock. A bare pipeline (frames painted straight into the encoder, no X server, no
 * capture) runs in the same matrix to show what capture costs.
 *
 *   npm run bench:latency -- [--frames 600] [--codec h264,vp9] [--only 1080,turn] [--json out.json]
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchChromium, startCoturn } from '@floe/testbed';
import { buildWeb } from '@floe/web/build';
import { pino } from 'pino';
import { loadStreamerConfig } from '../src/config.ts';
import { bareDesktop, type Desktop } from '../src/desktop.ts';
import { VIDEO_CODECS, type VideoCodec } from '../src/protocol.ts';
import { startStreamer } from '../src/streamer.ts';
import { startDisplayServer } from '../src/x11/display-server.ts';
import { openX11Desktop } from '../src/x11-desktop.ts';
import { type CpuSnapshot, cpuBetween, cpuSnapshot, stopChild } from './cpu.ts';

const HELP = `Glass-to-glass latency benchmark of the streamer (see docs/benchmarks.md).

  --frames N     latency samples per configuration (600)
  --fps N        frames per second painted and encoded (60)
  --repeat N     runs per configuration, pooled (3)
  --codec LIST   the codecs to run, comma-separated (h264,vp8,vp9,av1: all)
  --only LIST    run only configurations matching every comma-separated word,
                 e.g. "1080,H264,turn" or "bare"
  --json FILE    also write the results as JSON
  --help         this text
`;

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '600' },
    fps: { type: 'string', default: '60' },
    repeat: { type: 'string', default: '3' },
    codec: { type: 'string', default: VIDEO_CODECS.join(',') },
    only: { type: 'string', default: '' },
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

interface Case {
  name: string;
  width: number;
  height: number;
  codec: VideoCodec;
  path: 'direct' | 'turn';
  source: 'x11' | 'bare';
}

const cases: Case[] = [];
for (const [width, height] of [
  [1280, 720],
  [1920, 1080],
] as const)
  for (const codec of CODECS as VideoCodec[])
    for (const path of ['direct', 'turn'] as const)
      for (const source of ['x11', 'bare'] as const)
        cases.push({
          name: `${height}p ${codec} ${path} ${source}`,
          width,
          height,
          codec,
          path,
          source,
        });
const wanted = values.only.split(',').filter(Boolean);
const selected = cases.filter((c) => wanted.every((w) => c.name.includes(w)));

const log = pino({ level: 'warn' });
const work = mkdtempSync(join(tmpdir(), 'floe-bench-'));
const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
const turn = await startCoturn({ relayPorts: 512 });
const browser = await launchChromium(process.env.BENCH_CHROMIUM_ARGS?.split(' ').filter(Boolean));
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
    let desktop: Desktop;
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
      desktop = await openX11Desktop(display, log, { resizable: false });
    } else {
      desktop = bareDesktop(c.width, c.height);
    }
    stops.push(() => desktop.close());
    const config = loadStreamerConfig({
      DISPLAY: display || ':0',
      FLOE_STREAMER_PORT: '0',
      FLOE_STREAMER_CODECS: c.codec,
      FLOE_STREAMER_FPS: String(FPS),
      FLOE_STREAMER_WEB_DIR: webDir,
      ...(c.path === 'turn' && { FLOE_TURN_URLS: turn.url, FLOE_TURN_SECRET: turn.secret }),
    });
    const streamer = await startStreamer(config, desktop, log);
    stops.push(() => streamer.close());

    const page = await browser.newPage({ viewport: { width: c.width, height: c.height + 80 } });
    stops.push(() => page.close());
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(m.text()));
    stops.push(async () => {
      if (process.env.BENCH_DEBUG) process.stderr.write(`${consoleLines.join('\n')}\n`);
    });
    const relay = c.path === 'turn' ? '&relay=1' : '';
    await page.goto(`${streamer.url}?codec=${c.codec}${relay}`);
    // generous: on a shared, loaded machine connecting has taken over 20 s
    await page.waitForFunction(() => document.body.dataset.state === 'streaming', null, {
      timeout: 60_000,
    });
    await page.evaluate(() => {
      window.__floe.collectLatency = true;
    });
    // CPU is counted over the measured frames only, after the warm-up.
    await page.waitForFunction((n) => window.__floe.latencies.length >= n, WARMUP_FRAMES, {
      timeout: 30_000,
    });
    const cpuBefore = cpuSnapshot();
    const started = Date.now();
    const [startIndex, startFrame] = await page.evaluate(() => [
      window.__floe.latencies.length,
      window.__floe.frames.length,
    ]);
    await page.waitForFunction((n) => window.__floe.latencies.length >= n, startIndex + FRAMES, {
      timeout: FRAMES * 200,
    });
    const seconds = (Date.now() - started) / 1000;
    const cpu = cpuUse(cpuBefore, cpuSnapshot(), seconds, pids);
    const measured = await page.evaluate(
      ([from, n]) => window.__floe.latencies.slice(from, from + n),
      [startIndex, FRAMES] as const,
    );
    // the same window measured from each frame's capture time (any app, capture-latency.ts)
    const fromCapture = await page.evaluate(
      (from) => window.__floe.frames.slice(from).map((f) => f.totalMs),
      startFrame,
    );
    const stats = (await page.evaluate(() => window.__floe.stats())) as BrowserStats;
    return { measured, fromCapture, seconds, stats, cpu };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  }
}

type Run = Awaited<ReturnType<typeof runCase>>;

/** Percentiles over the pooled samples of all runs; the other figures are means of the runs. */
function summarize(c: Case, runs: Run[]) {
  const sorted = runs.flatMap((r) => r.measured).sort((a, b) => a - b);
  const captured = runs.flatMap((r) => r.fromCapture).sort((a, b) => a - b);
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
    runP50s: runs.map((r) =>
      round([...r.measured].sort((a, b) => a - b)[Math.floor(r.measured.length / 2)]),
    ),
    fps: mean((r) => r.measured.length / r.seconds),
    decodedFps: mean((r) => r.stats.browser?.fps),
    pipelineMs: mean((r) => r.stats.streamer?.pipelineMs),
    encodeMs: mean((r) => r.stats.streamer?.encodeMs),
    rttMs: mean((r) => r.stats.browser?.rttMs),
    jitterBufferMs: mean((r) => r.stats.browser?.jitterBufferMs),
    decodeMs: mean((r) => r.stats.browser?.decodeMs),
    candidate: runs[0]!.stats.browser?.candidateType ?? '?',
    cpu,
  };
}

interface BrowserStats {
  browser?: {
    fps?: number;
    rttMs?: number;
    jitterBufferMs?: number;
    decodeMs?: number;
    candidateType?: string;
  };
  streamer?: { encodeMs?: number; pipelineMs?: number };
}

declare global {
  interface Window {
    __floe: {
      collectLatency: boolean;
      latencies: number[];
      frames: { totalMs: number }[];
      stats(): unknown;
    };
  }
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
    streamer: percent((pid) => pid === process.pid),
    pipeline: percent((_, p) => p.ppid === process.pid && p.name.startsWith('python')),
    xserver: percent((pid) => (pids.xserver ?? []).includes(pid)),
    app: percent((pid) => (pids.app ?? []).includes(pid)),
    chromium: percent((_, p) => p.name.startsWith('chrom')),
    coturn: percent((_, p) => p.name === 'turnserver'),
    machine,
  };
}

function printTable(rows: Record<string, unknown>[]) {
  const cpuText = (c: Record<string, number>) =>
    `${c.machine}% (streamer ${c.streamer}, gst ${c.pipeline}, X ${c.xserver}, app ${c.app}, chromium ${c.chromium}, turn ${c.coturn})`;
  console.log(
    '| case | p50 ms (per run) | p90 ms | p99 ms | from capture time p50 / p99 ms | fps shown | fps decoded | capture→encoded ms | encode ms | RTT ms | jitter buffer ms | decode ms | CPU, machine (per part, % of a core) |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.case} | ${r.p50} (${(r.runP50s as number[]).join(', ')}) | ${r.p90} | ${r.p99} | ${r.captureP50} / ${r.captureP99} | ${r.fps} | ${r.decodedFps} | ${r.pipelineMs} | ${r.encodeMs} | ${r.rttMs} | ${r.jitterBufferMs} | ${r.decodeMs} | ${cpuText(r.cpu as Record<string, number>)} |`,
    );
}
