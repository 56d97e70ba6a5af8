/**
 * What each codec's encoder costs: the streamer's own pipeline (floe_pipeline.py, bare
 * source: the probe's barcode and moving block painted straight into the encoder, no X, no
 * network), run for a while per codec and size. CPU time is read from /proc, so it counts the
 * work done, not the waiting: on a shared, loaded machine it stays comparable where latency
 * does not. H.264 (x264) runs in the same run as the reference.
 *
 *   node streamer/bench/encoders.ts [--codec h264,vp9-444,...] [--seconds 10] [--fps 60]
 */

import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startPipeline } from '../src/pipeline.ts';
import { VIDEO_CODECS, type VideoCodec } from '../src/protocol.ts';

const HELP = `What each codec's encoder costs in the streamer's own pipeline (see docs/benchmarks.md).

  --codec LIST   codecs to run, of ${VIDEO_CODECS.join(', ')} (all)
  --seconds N    seconds per codec and size (10)
  --fps N        frames a second (60)
  --kbps N       the encoders' target bitrate (4000)
  --help         this text
`;

const { values } = parseArgs({
  options: {
    codec: { type: 'string', default: VIDEO_CODECS.join(',') },
    seconds: { type: 'string', default: '10' },
    fps: { type: 'string', default: '60' },
    kbps: { type: 'string', default: '4000' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const CODECS = values.codec.split(',').map((c) => c.trim().toUpperCase()) as VideoCodec[];
const bad = CODECS.filter((c) => !VIDEO_CODECS.includes(c));
if (bad.length > 0) {
  process.stderr.write(`--codec: ${bad.join(', ')} is none of ${VIDEO_CODECS.join(', ')}\n`);
  process.exit(2);
}
const SECONDS = Number(values.seconds);
const FPS = Number(values.fps);
const KBPS = Number(values.kbps);
const WARMUP_MS = 2000;
const HZ = 100; // USER_HZ on Linux

/** CPU ticks (user + system) of this process's python children, the pipelines. */
function pipelineTicks(): number {
  let ticks = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid || !name.startsWith('python')) continue;
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone while read
    }
  }
  return ticks;
}

interface Row {
  codec: VideoCodec;
  size: string;
  fps: number;
  encodeMs: number;
  cpuMsPerFrame: number;
  corePercent: number;
  kbps: number;
}

async function measure(codec: VideoCodec, width: number, height: number): Promise<Row> {
  let frames = 0;
  let bytes = 0;
  let encodeSum = 0;
  let counting = false;
  const pipeline = await startPipeline({
    source: 'bare',
    display: '',
    width,
    height,
    fps: FPS,
    codec,
    h264Encoder: 'x264enc',
    kbps: KBPS,
    python: '/usr/bin/python3',
    onRtp: () => {},
    onStats: (s) => {
      if (!counting) return;
      frames += s.frames;
      bytes += s.bytes;
      encodeSum += s.encodeMs * s.frames;
    },
  });
  try {
    await new Promise((r) => setTimeout(r, WARMUP_MS));
    const before = pipelineTicks();
    const started = Date.now();
    counting = true;
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    counting = false;
    const seconds = (Date.now() - started) / 1000;
    const cpuSeconds = (pipelineTicks() - before) / HZ;
    return {
      codec,
      size: `${height}p`,
      fps: round(frames / seconds),
      encodeMs: round(encodeSum / Math.max(1, frames)),
      cpuMsPerFrame: round((cpuSeconds * 1000) / Math.max(1, frames)),
      corePercent: Math.round((cpuSeconds / seconds) * 100),
      kbps: Math.round((bytes * 8) / seconds / 1000),
    };
  } finally {
    await pipeline.stop();
  }
}

function round(n: number) {
  return Math.round(n * 10) / 10;
}

const loadBefore = loadavg();
const rows: Row[] = [];
for (const [width, height] of [
  [1280, 720],
  [1920, 1080],
] as const) {
  for (const codec of CODECS) {
    process.stderr.write(`${height}p ${codec}… `);
    const row = await measure(codec, width, height);
    process.stderr.write(`${row.cpuMsPerFrame} ms CPU a frame\n`);
    rows.push(row);
  }
}
const loadAfter = loadavg();

console.log(
  '| size | codec | fps encoded | encode ms (mean) | CPU ms a frame | × H.264 | % of a core | kbit/s |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  const h264 = rows.find((x) => x.size === r.size && x.codec === 'H264');
  const ratio = h264 ? round(r.cpuMsPerFrame / h264.cpuMsPerFrame) : '–';
  console.log(
    `| ${r.size} | ${r.codec} | ${r.fps} | ${r.encodeMs} | ${r.cpuMsPerFrame} | ${ratio} | ${r.corePercent}% | ${r.kbps} |`,
  );
}
console.log(
  `\nload average (1, 5, 15 min): ${loadBefore.map(round).join(', ')} before, ${loadAfter.map(round).join(', ')} after`,
);
