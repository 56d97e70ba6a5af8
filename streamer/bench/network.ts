/**
 * The stream on a bad network: Chromium in a network namespace of its own behind a shaped
 * veth (bench/network-lab.ts), one scenario at a time, each from a fresh streamer and page.
 * Prints, per scenario and phase, frames shown per second, the longest gap between frames,
 * time frozen, received bitrate, the sender's lowest target, glass-to-glass, and the time
 * the received bitrate took to come back to 90 % of what it was before the impairment.
 *
 *   npm run bench:network -- [--only step,outage] [--json out.json] [--trace-out dir]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildWeb } from '@floe/web/build';
import { BASE_KBIT, openLab, type Phase, phaseFigures, recoveryMs } from './network-lab.ts';

const HELP = `Bad-network benchmark of the stream (see docs/benchmarks.md). Needs root (ip netns, tc, iptables).

  --only LIST       scenarios to run, comma-separated (step,loss,delay,outage: all)
  --json FILE       also write the results as JSON
  --trace-out DIR   write each scenario's congestion-control trace there (JSON lines)
  --help            this text

Scenarios (the link is ${BASE_KBIT / 1000} Mbit/s each way, tbf with a 200 ms queue, unless said):
  step     8 s clean, 10 s at 0.5 Mbit/s, 10 s back at 5 Mbit/s
  loss     8 s clean, 15 s with 2 % random loss each way, 8 s clean
  delay    8 s clean, 15 s with 50 ± 20 ms each way (100 ms RTT, 20 ms jitter), 8 s clean
  outage   8 s clean, 3 s with every packet dropped, 10 s clean
`;

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'step,loss,delay,outage' },
    json: { type: 'string' },
    'trace-out': { type: 'string' },
    help: { type: 'boolean' },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const clean = { rateKbit: BASE_KBIT };
const SCENARIOS: Record<string, Phase[]> = {
  step: [
    { name: 'before', seconds: 8, link: clean },
    { name: '0.5 Mbit/s', seconds: 10, link: { rateKbit: 500 } },
    { name: 'after', seconds: 10, link: clean },
  ],
  loss: [
    { name: 'before', seconds: 8, link: clean },
    { name: '2 % loss', seconds: 15, link: { ...clean, lossPercent: 2 } },
    { name: 'after', seconds: 8, link: clean },
  ],
  delay: [
    { name: 'before', seconds: 8, link: clean },
    { name: '100 ms RTT ± 20', seconds: 15, link: clean, delay: { delayMs: 50, jitterMs: 20 } },
    { name: 'after', seconds: 8, link: clean },
  ],
  outage: [
    { name: 'before', seconds: 8, link: clean },
    { name: '3 s outage', seconds: 3, link: { ...clean, down: true } },
    { name: 'after', seconds: 10, link: clean },
  ],
};
const wanted = values.only.split(',').map((s) => s.trim());
const unknown = wanted.filter((w) => !(w in SCENARIOS));
if (unknown.length > 0) {
  process.stderr.write(
    `--only: ${unknown.join(', ')} is none of ${Object.keys(SCENARIOS).join(', ')}\n`,
  );
  process.exit(2);
}

const work = mkdtempSync(join(tmpdir(), 'floe-bench-net-'));
const { dir: webDir } = await buildWeb({ outDir: join(work, 'web') });
const lab = await openLab(webDir);
const rows: Record<string, unknown>[] = [];
try {
  for (const [index, name] of wanted.entries()) {
    const phases = SCENARIOS[name]!;
    const load = loadavg()[0]!;
    process.stderr.write(`${name}… `);
    const rec = await lab.run(phases);
    if (values['trace-out']) {
      mkdirSync(values['trace-out'], { recursive: true });
      // a scenario named twice (--only step,step) keeps each run's trace: step.jsonl, step-2.jsonl
      const runs = wanted.slice(0, index + 1).filter((n) => n === name).length;
      writeFileSync(
        join(values['trace-out'], runs > 1 ? `${name}-${runs}.jsonl` : `${name}.jsonl`),
        rec.trace.map((e) => JSON.stringify(e)).join('\n'),
      );
    }
    const recovery = recoveryMs(rec, 2, 0);
    process.stderr.write(`done (load ${load.toFixed(1)})\n`);
    phases.forEach((phase, i) => {
      const f = phaseFigures(rec, i);
      rows.push({
        scenario: name,
        phase: phase.name,
        ...f,
        recoveryMs: i === 2 ? recovery : null,
        load: Math.round(load * 10) / 10,
      });
    });
  }
} finally {
  await lab.close();
  rmSync(work, { recursive: true, force: true });
}

const r = (n: unknown) => (typeof n === 'number' ? String(Math.round(n)) : '–');
console.log(
  '| scenario | phase | fps shown | first frame ms | longest gap ms | frozen ms | received kbit/s | lowest target kbit/s | g2g p50 / p95 ms | back to 90 % of before, ms | load (1 min) |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const x of rows)
  console.log(
    `| ${x.scenario} | ${x.phase} | ${(x.fps as number).toFixed(1)} | ${r(x.firstFrameMs)} | ${r(x.longestGapMs)} | ${r(x.frozenMs)} | ${r(x.receivedKbps)} | ${r(x.minTargetKbps)} | ${r(x.g2gP50)} / ${r(x.g2gP95)} | ${r(x.recoveryMs)} | ${x.load} |`,
  );
console.log(
  `\nload average (1, 5, 15 min) after: ${loadavg()
    .map((n) => n.toFixed(1))
    .join(', ')}`,
);
if (values.json) writeFileSync(values.json, `${JSON.stringify(rows, null, 2)}\n`);
