// The stream through a bad network (bench/network-lab.ts): Chromium in a network namespace of
// its own, behind a veth shaped to 5 Mbit/s, then 0.5 Mbit/s, then 5 again. The assertions are
// about behaviour that a stream without working congestion control would not show, not about
// how fast anything is (bench/network.ts measures that).
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildWeb } from '@floe/web/build';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BASE_KBIT, type Lab, openLab, phaseFigures } from '../bench/network-lab.ts';

const testbed = inject('testbed');
let work: string;
let lab: Lab;

beforeAll(async () => {
  work = await mkdtemp(join(testbed.tempRoot, 'e2e-network-'));
  const { dir } = await buildWeb({ outDir: join(work, 'web') });
  lab = await openLab(dir);
}, 120_000);

afterAll(async () => {
  await lab?.close();
  await rm(work, { recursive: true, force: true });
}, 60_000);

describe('a 5 → 0.5 Mbit/s step', () => {
  it('cuts the sender under the narrowed link, keeps showing frames and climbs back', async () => {
    const rec = await lab.run(
      [
        { name: 'before', seconds: 6, link: { rateKbit: BASE_KBIT } },
        { name: 'narrow', seconds: 10, link: { rateKbit: 500 } },
        { name: 'after', seconds: 8, link: { rateKbit: BASE_KBIT } },
      ],
      // small and few frames: the test shares the machine with the rest of the suite
      { width: 960, height: 540, fps: 20 },
    );
    const [before, narrow, after] = [0, 1, 2].map((i) => phaseFigures(rec, i));
    // the browser sent transport-wide feedback all along, and the path was used beyond what
    // the narrow link carries (else the step would test nothing)
    expect(before!.minTargetKbps).not.toBeNull();
    expect(before!.receivedKbps).toBeGreaterThan(700);
    // the send-side estimate went under the narrowed link's rate
    expect(narrow!.minTargetKbps).toBeLessThan(500);
    // and the picture went on: frames were shown in the last half of the narrow phase
    const half = (rec.boundaries[1]! + rec.boundaries[2]!) / 2;
    const late = rec.frames.filter((t) => t >= half && t < rec.boundaries[2]!);
    expect(late.length).toBeGreaterThan(5);
    // after the lift the target climbed back over the narrow link's rate, frames still coming
    const afterTargets = rec.targets.filter(([t]) => t >= rec.boundaries[2]!).map(([, k]) => k);
    expect(Math.max(...afterTargets)).toBeGreaterThan(1000);
    expect(after!.fps).toBeGreaterThan(1);
  }, 120_000);
});
