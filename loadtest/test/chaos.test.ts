// The chaos scenario, shortened (loadtest/chaos.ts --short): 3 control-plane replicas on one
// PostgreSQL, two testbed clusters with their operators, k6 launching and stopping through
// every replica for 30 s while a replica is SIGKILLed every 10 s and PostgreSQL restarts
// once. The full run (2 minutes) is a benchmark: docs/benchmarks.md.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CHAOS = fileURLToPath(new URL('../chaos.ts', import.meta.url));

function runChaos(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // spawns: node (chaos.ts, which starts PostgreSQL, the clusters, the replicas and k6)
    const child = spawn(process.execPath, [CHAOS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the chaos scenario (short)', () => {
  it('leaves nothing stuck, orphaned, lost, double-counted or over quota', async () => {
    const { code, stdout, stderr } = await runChaos(['--short', '--json']);
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
    if (code !== 0) console.error(stderr.slice(-4000));
    expect(result.failures).toEqual([]);
    expect(code).toBe(0);
    // the faults happened: two replicas killed, PostgreSQL restarted
    expect(result.incidents).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PostgreSQL restarted at \d+–\d+ ms$/),
        expect.stringMatching(/^replica \d killed at \d+–\d+ ms$/),
      ]),
    );
    expect(result.launches).toBeGreaterThan(20);
    expect(result.usageSecondsRecomputed).toBeGreaterThan(0);
    expect(result.usageSecondsApi).toBeCloseTo(result.usageSecondsRecomputed, 2);
    expect(result.peakGpus).toBeLessThanOrEqual(result.quota);
    expect(result.stuck).toBe(0);
    expect(result.resourcesWithoutSession).toBe(0);
    expect(result.unanswered).toEqual([]);
  }, 420_000);
});
