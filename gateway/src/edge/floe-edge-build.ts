// floe-edge's program: built from gateway/edge-proxy with the machine's cargo, once per
// version of its sources, into ~/.cache/floe/floe-edge/<hash> (FLOE_GATEWAY_EDGE_PROGRAM
// names a program built elsewhere).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const SOURCE = join(import.meta.dirname, '..', '..', 'edge-proxy');

/** The path of floe-edge built from this checkout's sources, building it if need be. */
export function floeEdgeProgram(log: (line: string) => void): string {
  const hash = createHash('sha256');
  const files = [
    'Cargo.toml',
    'Cargo.lock',
    ...readdirSync(join(SOURCE, 'src')).map((f) => join('src', f)),
  ].sort();
  for (const f of files) hash.update(f).update(readFileSync(join(SOURCE, f)));
  const base = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache');
  const target = join(base, 'floe', 'floe-edge', hash.digest('hex').slice(0, 12));
  const program = join(target, 'release', 'floe-edge');
  if (existsSync(program)) return program;
  log(`building floe-edge with cargo into ${target} (once per version of its sources)`);
  // spawns: cargo
  const built = spawnSync(
    'cargo',
    ['build', '--release', '--locked', '--quiet', '--target-dir', target],
    { cwd: SOURCE, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (built.status !== 0 || !existsSync(program)) {
    throw new Error(`cargo build of ${SOURCE} failed (${built.error?.message ?? built.status})`);
  }
  return program;
}
