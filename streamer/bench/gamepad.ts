/**
 * What the gamepad interposer (streamer/gamepad/interposer.c) costs an app that never uses a
 * pad: every open and stat of the app goes through it. A Python program opens and closes a
 * file and stats a path, N times each, with the interposer in LD_PRELOAD and, as the peer in
 * the same run, without it; it prints nanoseconds per call of each and the ratio. Then how
 * long a pad's change takes from the hub to a reader of /dev/input/js0 under the interposer
 * (and back over a pipe, so that one clock measures it).
 *
 *   node streamer/bench/gamepad.ts [--calls 200000] [--changes 2000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { buildInterposer } from '../src/gamepad/build.ts';
import { startGamepadHub } from '../src/gamepad/hub.ts';

const HELP = `What the gamepad interposer costs an app's open and stat, beside no interposer, and
how long a pad's change takes to reach a reader (see docs/benchmarks.md).

  --calls N     open+close and stat calls each, per run (200000)
  --changes N   pad changes sent to the reader one at a time (2000)
  --help        this text
`;

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '200000' },
    changes: { type: 'string', default: '2000' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const calls = Number(values.calls);
const changes = Number(values.changes);
const dir = mkdtempSync(join(tmpdir(), 'floe-bench-gamepad-'));
const lib = await buildInterposer(join(dir, 'cache'));
const pads = join(dir, 'pads');
const hub = await startGamepadHub(pads, pino({ level: 'silent' }));

/** Runs a Python program with or without the interposer; its stdout's lines. */
function python(program: string, args: string[], preload: boolean, onLine?: (l: string) => void) {
  // spawns: python3
  const child = spawn('python3', ['-c', program, ...args], {
    env: { PATH: process.env.PATH, ...(preload && { LD_PRELOAD: lib, FLOE_GAMEPAD_DIR: pads }) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    lines.push(l);
    onLine?.(l);
  });
  return new Promise<string[]>((resolve) => child.once('exit', () => resolve(lines)));
}

const CALLS = `
import os, sys, time
n = int(sys.argv[1]); path = sys.argv[2]
t = time.perf_counter_ns()
for _ in range(n): os.close(os.open(path, os.O_RDONLY))
opened = (time.perf_counter_ns() - t) / n
t = time.perf_counter_ns()
for _ in range(n): os.stat(path)
print(opened, (time.perf_counter_ns() - t) / n)
`;
const file = new URL(import.meta.url).pathname;
const per = async (preload: boolean) => {
  const [line] = await python(CALLS, [String(calls), file], preload);
  const [open, stat] = (line ?? '').split(' ').map(Number) as [number, number];
  return { open, stat };
};
// alternate, so that neither side has the warm caches alone
type Costs = { open: number; stat: number };
const runs: { with: Costs[]; without: Costs[] } = { with: [], without: [] };
for (let i = 0; i < 5; i++) {
  runs.without.push(await per(false));
  runs.with.push(await per(true));
}
const best = (xs: Costs[], k: keyof Costs) => Math.min(...xs.map((x) => x[k]));
for (const k of ['open', 'stat'] as const) {
  const w = best(runs.with, k);
  const wo = best(runs.without, k);
  console.log(
    `${k === 'open' ? 'open+close' : 'stat      '} of a file: ${w.toFixed(0)} ns with the interposer, ` +
      `${wo.toFixed(0)} ns without (peer): ratio ${(w / wo).toFixed(2)} (best of 5, ${calls} calls)`,
  );
}

// The hub to a reader: from apply() to the reader's word that it read the change (a line on a
// pipe), on this process's clock; the pipe's own hop is in it.
const READER = `
import os, sys
fd = os.open('/dev/input/js0', os.O_RDONLY)
os.read(fd, 8 * 19)  # the state's burst
print('ready', flush=True)
for _ in range(int(sys.argv[1])):
    os.read(fd, 8)
    print('read', flush=True)
`;
const delays: number[] = [];
let heard: () => void = () => {};
const reader = python(READER, [String(changes)], true, () => heard());
await new Promise<void>((resolve) => {
  heard = resolve;
});
for (let i = 0; i < changes; i++) {
  const got = new Promise<void>((resolve) => {
    heard = resolve;
  });
  const sent = performance.now();
  hub.apply({ t: 'gamepad', pad: 0, buttons: [[0, i % 2 === 0]] });
  await got;
  delays.push((performance.now() - sent) * 1000);
}
await reader;
delays.sort((a, b) => a - b);
const pct = (p: number) =>
  delays[Math.min(delays.length - 1, Math.floor((p / 100) * delays.length))]!;
console.log(
  `hub → reader of /dev/input/js0 → a line back: median ${pct(50).toFixed(0)} µs, p99 ${pct(99).toFixed(0)} µs (${changes} changes, one at a time)`,
);
await hub.close();
rmSync(dir, { recursive: true, force: true });
