// Containers from OCI images without a daemon: an image unpacked into a runc bundle (umoci)
// and run by runc (Debian's). This sandbox refuses rlimit changes, so every bundle's
// process.rlimits is emptied (shared/examples/oci-without-docker); no terminal is attached.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The parts of a bundle's config.json (OCI runtime spec) that callers change. */
export interface BundleSpec {
  process: {
    args: string[];
    env: string[];
    cwd: string;
    user: { uid: number; gid: number };
    rlimits: unknown[];
    terminal: boolean;
  };
  mounts: { destination: string; type: string; source: string; options: string[] }[];
}

/** Unpacks `layout:tag` (an OCI image layout) into `bundle`, ready for runc. */
export function unpackBundle(layout: string, tag: string, bundle: string): BundleSpec {
  // spawns: umoci
  execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], { stdio: 'ignore' });
  return editBundle(bundle, () => {});
}

/** Reads, edits and writes a bundle's config.json, rlimits emptied and no terminal. */
export function editBundle(bundle: string, edit: (spec: BundleSpec) => void): BundleSpec {
  const file = join(bundle, 'config.json');
  const spec = JSON.parse(readFileSync(file, 'utf8')) as BundleSpec;
  spec.process.rlimits = [];
  spec.process.terminal = false;
  edit(spec);
  writeFileSync(file, JSON.stringify(spec));
  return spec;
}

let containers = 0;
const containerId = () => `floe-${process.pid}-${++containers}`;

/** Runs a bundle's process to its end, with its output. */
export function runBundle(bundle: string, timeoutMs = 60_000) {
  const id = containerId();
  // spawns: runc
  const r = spawnSync('runc', ['run', '--bundle', bundle, id], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  // spawns: runc
  if (r.error) spawnSync('runc', ['delete', '--force', id]);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface RunningBundle {
  id: string;
  child: ChildProcess;
  /** Removes the container whatever it is doing; resolves when runc has returned. */
  stop(): Promise<void>;
}

/** Starts a bundle's process and leaves it running until stop(). */
export function startBundle(bundle: string): RunningBundle {
  const id = containerId();
  // spawns: runc
  const child = spawn('runc', ['run', '--bundle', bundle, id], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    id,
    child,
    async stop() {
      // spawns: runc
      spawnSync('runc', ['delete', '--force', id]);
      if (child.exitCode === null && child.signalCode === null) await exited;
    },
  };
}
