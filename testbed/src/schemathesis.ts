// schemathesis (property-based testing of an API against its OpenAPI document), from PyPI,
// installed the first time it is needed into a virtualenv in the versioned cache: Debian's
// python3 and python3-venv, and the pinned list testbed/schemathesis-requirements.txt.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.ts';

export const SCHEMATHESIS_VERSION = '4.32.5';

const REQUIREMENTS = fileURLToPath(new URL('../schemathesis-requirements.txt', import.meta.url));

/** The virtualenv's python, which runs schemathesis as `python -m schemathesis.cli`. */
export function ensureSchemathesis(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): string {
  const pinned = readFileSync(REQUIREMENTS, 'utf8');
  if (!pinned.includes(`schemathesis==${SCHEMATHESIS_VERSION}\n`)) {
    throw new Error(`${REQUIREMENTS} does not pin schemathesis==${SCHEMATHESIS_VERSION}`);
  }
  const venv = cacheDir('schemathesis', SCHEMATHESIS_VERSION);
  const python = join(venv, 'bin', 'python');
  if (existsSync(python)) return python;
  mkdirSync(dirname(venv), { recursive: true });
  // built beside its final place and renamed into it: a half-built one is never used
  const building = `${venv}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  log(`testbed: installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI (once; about 30 s)...`);
  const started = Date.now();
  const venvRun = spawnSync('/usr/bin/python3', ['-m', 'venv', building], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (venvRun.status !== 0) {
    throw new Error(`python3 -m venv failed (exit ${venvRun.status}): is python3-venv installed?`);
  }
  // spawns: python3 (the virtualenv's pip)
  const pip = spawnSync(
    join(building, 'bin', 'python'),
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', REQUIREMENTS],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (pip.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`pip install -r ${REQUIREMENTS} failed (exit ${pip.status})`);
  }
  try {
    renameSync(building, venv);
  } catch (err) {
    // another process finished first: use its copy
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(python)) throw err;
  }
  log(`testbed: schemathesis installed in ${Math.round((Date.now() - started) / 1000)} s: ${venv}`);
  return python;
}
