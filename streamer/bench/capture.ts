/**
 * What Floe's X capture costs, without the browser: the probe app paints at 60 fps on an Xorg
 * dummy display and the streamer's pipeline (floe_pipeline.py) captures, converts and encodes
 * it to H.264, once with the damage-driven capture (floe_xcapture.py) and once with
 * ximagesrc, alternating, each run with every process started anew. CPU time is read from
 * /proc (the pipeline and the X server), so it counts the work done, not the waiting: on a
 * shared, loaded machine it stays comparable where latency does not. Glass-to-glass latency
 * is bench:latency's (--capture damage,ximagesrc).
 *
 *   node streamer/bench/capture.ts [--seconds 10] [--repeat 2] [--fps 60] [--sizes 720,1080]
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startProbeProcess } from '../probe/probe-process.ts';
import { startPipeline } from '../src/pipeline.ts';
import { startDisplayServer } from '../src/x11/display-server.ts';
import { cpuSnapshot } from './cpu.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    repeat: { type: 'string', default: '2' },
    fps: { type: 'string', default: '60' },
    sizes: { type: 'string', default: '720,1080' },
    threads: { type: 'string', default: '2' },
    capture: { type: 'string', default: 'damage,damage-videoconvert,ximagesrc' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(`Usage: npm run bench:capture -- [options]

What Floe's two X captures (damage, ximagesrc) cost without the browser (docs/benchmarks.md).

  --seconds N   measured seconds a run (10)
  --repeat N    runs of each capture, alternating (2)
  --fps N       frames per second painted and captured (60)
  --sizes LIST  720, 1080 or both (720,1080)
  --capture L   the captures to compare (damage,damage-videoconvert,ximagesrc):
                damage converts the changed rectangles to I420 with libyuv,
                damage-videoconvert converts whole frames in GStreamer
  --threads L   conversion and encoder threads to compare, e.g. 1,2 (2)
  --help        this text
`);
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const REPEAT = Number(values.repeat);
const FPS = Number(values.fps);
const SIZES: Record<string, [number, number]> = { '720': [1280, 720], '1080': [1920, 1080] };
const sizes = values.sizes.split(',').map((s) => s.trim().replace(/p$/, ''));
if (sizes.some((s) => !SIZES[s])) {
  process.stderr.write(`--sizes: one of ${Object.keys(SIZES).join(', ')}, comma-separated\n`);
  process.exit(2);
}
const CAPTURE_SETTINGS = {
  damage: { capture: 'damage', convert: 'libyuv' },
  'damage-videoconvert': { capture: 'damage', convert: 'videoconvert' },
  ximagesrc: { capture: 'ximagesrc', convert: undefined },
} as const;
type Capture = keyof typeof CAPTURE_SETTINGS;
const CAPTURES = values.capture.split(',').map((c) => c.trim()) as Capture[];
if (CAPTURES.some((c) => !(c in CAPTURE_SETTINGS))) {
  process.stderr.write(`--capture: a list of ${Object.keys(CAPTURE_SETTINGS).join(', ')}\n`);
  process.exit(2);
}
const THREADS = values.threads.split(',').map(Number);
if (THREADS.some((t) => !Number.isInteger(t) || t < 1 || t > 16)) {
  process.stderr.write('--threads: a list of whole numbers from 1 to 16\n');
  process.exit(2);
}
/** One configuration: a capture with a thread count. */
const CONFIGS = CAPTURES.flatMap((capture) => THREADS.map((threads) => ({ capture, threads })));
const WARMUP_MS = 2000;
const HZ = 100; // USER_HZ on Linux

/** CPU ticks (user + system) of a process. */
function ticks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/** This process's python children: the pipeline. */
const pipelinePids = (): number[] =>
  [...cpuSnapshot().procs]
    .filter(([, p]) => p.ppid === process.pid && p.name.startsWith('python'))
    .map(([pid]) => pid);

interface Sample {
  frames: number;
  seconds: number;
  captureToEncodedMs: number;
  encodeMs: number;
  pipelineCpuS: number;
  xCpuS: number;
}

async function measure(
  capture: Capture,
  threads: number,
  width: number,
  height: number,
): Promise<Sample> {
  const work = mkdtempSync(join(tmpdir(), 'floe-capture-bench-'));
  const server = await startDisplayServer({ width, height, workDir: work });
  const probe = await startProbeProcess({ display: server.display, fps: FPS });
  let frames = 0;
  let pipelineSum = 0;
  let encodeSum = 0;
  let counting = false;
  const pipeline = await startPipeline({
    source: 'x11',
    display: server.display,
    width,
    height,
    fps: FPS,
    codec: 'H264',
    h264Encoder: 'x264enc',
    ...CAPTURE_SETTINGS[capture],
    threads,
    kbps: 4000,
    python: '/usr/bin/python3',
    onRtp: () => {},
    onStats: (s) => {
      if (!counting) return;
      frames += s.frames;
      pipelineSum += s.pipelineMs * s.frames;
      encodeSum += s.encodeMs * s.frames;
    },
  });
  try {
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const pids = pipelinePids();
    const cpu = () => ({
      pipeline: pids.reduce((sum, p) => sum + ticks(p), 0),
      x: ticks(server.pid),
    });
    const before = cpu();
    const started = Date.now();
    counting = true;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    counting = false;
    const after = cpu();
    return {
      frames,
      seconds: (Date.now() - started) / 1000,
      captureToEncodedMs: pipelineSum / Math.max(1, frames),
      encodeMs: encodeSum / Math.max(1, frames),
      pipelineCpuS: (after.pipeline - before.pipeline) / HZ,
      xCpuS: (after.x - before.x) / HZ,
    };
  } finally {
    await pipeline.stop();
    await probe.stop();
    await server.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const round = (n: number) => Math.round(n * 10) / 10;
const loadBefore = loadavg();
const rows: string[] = [];
for (const size of sizes) {
  const [width, height] = SIZES[size]!;
  const samples: Sample[][] = CONFIGS.map(() => []);
  // alternating, so that the machine's load drifts over all alike
  for (let i = 0; i < REPEAT; i++)
    for (const [k, { capture, threads }] of CONFIGS.entries()) {
      process.stderr.write(`${height}p ${capture} ${threads} threads run ${i + 1}… `);
      const s = await measure(capture, threads, width, height);
      process.stderr.write(`${round(s.frames / s.seconds)} fps\n`);
      samples[k]!.push(s);
    }
  for (const [k, { capture, threads }] of CONFIGS.entries()) {
    const runs = samples[k]!;
    const sum = (pick: (s: Sample) => number) => runs.reduce((a, s) => a + pick(s), 0);
    const frames = sum((s) => s.frames);
    const seconds = sum((s) => s.seconds);
    const cpuMs = ((sum((s) => s.pipelineCpuS) + sum((s) => s.xCpuS)) * 1000) / frames;
    rows.push(
      `| ${height}p | ${capture} | ${threads} | ${round(frames / seconds)} | ${round(sum((s) => s.captureToEncodedMs * s.frames) / frames)} | ${round(sum((s) => s.encodeMs * s.frames) / frames)} | ${Math.round((sum((s) => s.pipelineCpuS) / seconds) * 100)}% | ${Math.round((sum((s) => s.xCpuS) / seconds) * 100)}% | ${round(cpuMs)} |`,
    );
  }
}
console.log(
  '| size | capture | threads | fps encoded | capture→encoded ms | encode ms | pipeline CPU (% of a core) | X server CPU | CPU ms a frame (pipeline + X) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(r);
console.log(
  `\nload average (1, 5, 15 min): ${loadBefore.map(round).join(', ')} before, ${loadavg().map(round).join(', ')} after`,
);
