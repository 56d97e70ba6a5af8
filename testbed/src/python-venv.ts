// Python tools from PyPI (schemathesis, pyarrow), each installed the first time it is needed
// into a virtualenv of its own in the versioned cache: Debian's python3 and python3-venv and
// a pinned requirements file of the testbed. Nothing is fetched at run time after that.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { cacheDir } from './cache.ts';

export interface PythonTool {
  /** the PyPI package that names the tool, pinned in `requirements` */
  name: string;
  version: string;
  /** a pip requirements file that pins `name==version` */
  requirements: string;
  log?: (line: string) => void;
}

/** The python of the tool's virtualenv, built once (beside its place, then renamed into it). */
export function ensurePythonVenv(tool: PythonTool): string {
  const { name, version, requirements } = tool;
  const log = tool.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  if (!readFileSync(requirements, 'utf8').includes(`${name}==${version}\n`)) {
    throw new Error(`${requirements} does not pin ${name}==${version}`);
  }
  const venv = cacheDir(name, version);
  const python = join(venv, 'bin', 'python');
  if (existsSync(python)) return python;
  mkdirSync(dirname(venv), { recursive: true });
  // a half-built virtualenv is never used: it becomes the tool's only by the rename
  const building = `${venv}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  log(`testbed: installing ${name} ${version} from PyPI (once; about 30 s)...`);
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
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '-r', requirements],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  if (pip.status !== 0) {
    rmSync(building, { recursive: true, force: true });
    throw new Error(`pip install -r ${requirements} failed (exit ${pip.status})`);
  }
  try {
    renameSync(building, venv);
  } catch (err) {
    // another process finished first: use its copy
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(python)) throw err;
  }
  log(`testbed: ${name} installed in ${Math.round((Date.now() - started) / 1000)} s: ${venv}`);
  return python;
}
