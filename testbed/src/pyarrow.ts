// pyarrow (Apache Arrow's Python library), from PyPI (python-venv.ts), pinned in
// testbed/pyarrow-requirements.txt. The billing tests read Parquet exports back with it, as
// an independent reader would.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ensurePythonVenv } from './python-venv.ts';

export const PYARROW_VERSION = '26.0.1';

const REQUIREMENTS = fileURLToPath(new URL('../pyarrow-requirements.txt', import.meta.url));

/** The virtualenv's python, which can `import pyarrow`. */
export function ensurePyarrow(log?: (line: string) => void): string {
  return ensurePythonVenv({
    name: 'pyarrow',
    version: PYARROW_VERSION,
    requirements: REQUIREMENTS,
    log,
  });
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
