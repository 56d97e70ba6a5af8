// The session-stop relay between a gateway's workers (cluster.ts), in a real node:cluster:
// the worker that forwarded a stop is answered only once every other worker forgot it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const HELPER = fileURLToPath(new URL('../helpers/cluster-relay.ts', import.meta.url));

it('answers a stop once every other worker has forgotten the session', () => {
  const run = spawnSync(process.execPath, [HELPER], { encoding: 'utf8', timeout: 20_000 });
  expect(run.status, run.stderr).toBe(0);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1) as string);
  expect(result.stopper).toBe(1);
  expect([...result.forgotten].sort()).toEqual([2, 3]);
});
