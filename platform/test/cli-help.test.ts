// Every command a user or operator runs answers `--help` (exit 0, a usage text on stdout)
// without doing anything else: the npm scripts' entry points, each service's main and the
// benchmarks. A new benchmark or CLI is found here by itself: every `node <file>.ts` in the
// root package.json's scripts, and every file of a `bench/` folder that parses its arguments.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scripts: Record<string, string> = JSON.parse(
  readFileSync(join(root, 'package.json'), 'utf8'),
).scripts;

const fromScripts = Object.values(scripts).flatMap((command) =>
  [...command.matchAll(/\bnode (?:--\S+ )*(\S+\.ts)/g)].map((m) => m[1]!),
);
const mains = ['control', 'gateway', 'operator', 'streamer', 'platform'].map(
  (p) => `${p}/src/main.ts`,
);
const benches = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'node_modules')
  .flatMap((d) => {
    try {
      return readdirSync(join(root, d.name, 'bench'))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => `${d.name}/bench/${f}`);
    } catch {
      return [];
    }
  })
  // a benchmark's child processes (the parent forks them with arguments) take no flags
  .filter((f) =>
    /parseArgs\(|process\.argv\.includes\('--help'\)/.test(readFileSync(join(root, f), 'utf8')),
  );
const clis = [...new Set([...fromScripts, ...mains, ...benches, 'turn/src/cli.ts'])].sort();

describe('--help', () => {
  it('finds the commands', () => {
    expect(clis).toEqual(
      expect.arrayContaining([
        'platform/src/main.ts',
        'control/bench/export.ts',
        'gateway/bench/proxy.ts',
        'streamer/bench/latency.ts',
        'loadtest/src/cli.ts',
      ]),
    );
  });

  it.each(clis)(
    '%s answers --help and does nothing else',
    (file) => {
      const run = spawnSync(process.execPath, [file, '--help'], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout.length).toBeGreaterThan(40);
      // a usage text names its flags or its usage; a table or a log line would not
      expect(run.stdout).toMatch(/--help|usage|Usage|\[flags\]|\[options\]/);
    },
    90_000,
  );
});
