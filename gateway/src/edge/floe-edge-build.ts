// floe-edge's program: built from gateway/edge-proxy with the machine's cargo, once per
// version of its sources, as ~/.cache/floe/floe-edge/<hash>/floe-edge (FLOE_GATEWAY_EDGE_PROGRAM
// names a program built elsewhere). The versions share one cargo target folder beside them,
// so a new version compiles only what changed and the cache does not grow with each.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
} from 'node:fs';
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
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'floe', 'floe-edge');
  const version = join(cache, hash.digest('hex').slice(0, 12));
  const program = join(version, 'floe-edge');
  if (existsSync(program)) return program;
  const target = join(cache, 'target');
  log(`building floe-edge with cargo into ${version} (once per version of its sources)`);
  // spawns: cargo
  const built = spawnSync(
    'cargo',
    ['build', '--release', '--locked', '--quiet', '--target-dir', target],
    { cwd: SOURCE, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const output = join(target, 'release', 'floe-edge');
  if (built.status !== 0 || !existsSync(output)) {
    throw new Error(`cargo build of ${SOURCE} failed (${built.error?.message ?? built.status})`);
  }
  // copied, then renamed into place: a gateway starting beside this one sees all or nothing
  mkdirSync(version, { recursive: true });
  const partial = `${program}.${process.pid}`;
  copyFileSync(output, partial);
  renameSync(partial, program);
  return program;
}
