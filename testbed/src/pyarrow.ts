// pyarrow (Apache Arrow's Python library), from PyPI, installed the first time it is needed
// into a virtualenv in the versioned cache, as schemathesis is (schemathesis.ts): Debian's
// python3 and python3-venv, and the pinned list testbed/pyarrow-requirements.txt. The
// billing tests read Parquet exports back with it, as an independent reader would.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.ts';

export const PYARROW_VERSION = '26.0.1';

const REQUIREMENTS = fileURLToPath(new URL('../pyarrow-requirements.txt', import.meta.url));

/** The virtualenv's python, which can `import pyarrow`. */
export function ensurePyarrow(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): string {
  const pinned = readFileSync(REQUIREMENTS, 'utf8');
  if (!pinned.includes(`pyarrow==${PYARROW_VERSION}\n`)) {
    throw new Error(`${REQUIREMENTS} does not pin pyarrow==${PYARROW_VERSION}`);
  }
  const venv = cacheDir('pyarrow', PYARROW_VERSION);
  const python = join(venv, 'bin', 'python');
  if (existsSync(python)) return python;
  mkdirSync(dirname(venv), { recursive: true });
  // built beside its final place and renamed into it: a half-built one is never used
  const building = `${venv}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  log(`testbed: installing pyarrow ${PYARROW_VERSION} from PyPI (once; about 30 s)...`);
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
  return python;
}

const READ_PARQUET = `
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
print(json.dumps({
  "schema": {f.name: str(f.type) for f in t.schema},
  "nullable": {f.name: f.nullable for f in t.schema},
  "rows": [{k: (str(v) if v is not None else None) for k, v in r.items()} for r in t.to_pylist()],
}))
`;

/**
 * A Parquet file as pyarrow reads it: each column's Arrow type, and the rows with every
 * value as Python's str() of it (decimals exact, timestamps with their zone).
 */
export function readParquet(file: string): {
  schema: Record<string, string>;
  nullable: Record<string, boolean>;
  rows: Record<string, string | null>[];
} {
  const python = ensurePyarrow();
  // spawns: python3 (the virtualenv's)
  const run = spawnSync(python, ['-c', READ_PARQUET, file], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`pyarrow could not read ${file}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}
