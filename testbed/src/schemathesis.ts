// schemathesis (property-based testing of an API against its OpenAPI document), from PyPI
// (python-venv.ts), pinned in testbed/schemathesis-requirements.txt.
import { fileURLToPath } from 'node:url';
import { ensurePythonVenv } from './python-venv.ts';

export const SCHEMATHESIS_VERSION = '4.32.5';

const REQUIREMENTS = fileURLToPath(new URL('../schemathesis-requirements.txt', import.meta.url));

/** The virtualenv's python, which runs schemathesis as `python -m schemathesis.cli`. */
export function ensureSchemathesis(log?: (line: string) => void): string {
  return ensurePythonVenv({
    name: 'schemathesis',
    version: SCHEMATHESIS_VERSION,
    requirements: REQUIREMENTS,
    log,
  });
}
