// k6, built from its Go module into the versioned cache the first time it is needed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './cache.ts';

export const K6_VERSION = 'v1.8.1';

export function ensureK6(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): string {
  const bin = cacheDir('k6', K6_VERSION, 'bin');
  const k6 = join(bin, 'k6');
  if (existsSync(k6)) return k6;
  mkdirSync(bin, { recursive: true });
  log(`testbed: building k6 ${K6_VERSION} with go install (once; about 1–2 minutes)...`);
  const started = Date.now();
  const r = spawnSync('go', ['install', `go.k6.io/k6@${K6_VERSION}`], {
    env: { ...process.env, GOBIN: bin, GOFLAGS: '-trimpath' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (r.status !== 0 || !existsSync(k6)) {
    throw new Error(`building k6 failed (go install go.k6.io/k6@${K6_VERSION}, exit ${r.status})`);
  }
  log(`testbed: k6 built in ${Math.round((Date.now() - started) / 1000)} s: ${k6}`);
  return k6;
}

/** Environment for running k6 here: no usage report, no network beyond loopback. */
export const K6_ENV = { K6_NO_USAGE_REPORT: 'true', K6_NO_COLOR: 'true' };
