/**
 * The gamepad interposer (streamer/gamepad/interposer.c), built with the machine's C compiler
 * (Debian gcc and libc6-dev, scripts/deps.tsv) into a cache outside the repository, one folder
 * per version of its source: built once, then found. Without a compiler a session has no
 * gamepads, and says so in its log.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const INTERPOSER_SOURCE = fileURLToPath(
  new URL('../../gamepad/interposer.c', import.meta.url),
);
const FLAGS = ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror'];
const LIBS = ['-ldl'];

/** Where built artefacts live between runs (testbed/src/cache.ts's place). */
const cacheBase = () => join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'floe');

/** The interposer's path, built now if this version of its source has not been. */
export async function buildInterposer(cache: string = cacheBase()): Promise<string> {
  const source = await readFile(INTERPOSER_SOURCE);
  const version = createHash('sha256')
    .update(source)
    .update(FLAGS.join(' '))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cache, 'gamepad', version);
  const lib = join(dir, 'libfloe-gamepad.so');
  if (existsSync(lib)) return lib;
  await mkdir(dir, { recursive: true });
  // another session may build the same version at once: each writes its own file, then renames
  const partial = `${lib}.${process.pid}`;
  await promisify(execFile)('cc', [...FLAGS, '-o', partial, INTERPOSER_SOURCE, ...LIBS], {
    timeout: 60_000,
  });
  // a sandboxed app's user loads it from a bind mount of this very file
  await chmod(partial, 0o644);
  await rename(partial, lib);
  return lib;
}

/**
 * Copies the built interposer into the gamepad folder a pod's containers share, where the
 * app's container preloads it from (its own image has none). Written aside, then renamed:
 * the app's start, ordered after the streamer's startup probe, never sees half a library.
 */
export async function copyInterposer(lib: string, dir: string): Promise<string> {
  const dest = join(dir, basename(lib));
  const partial = `${dest}.${process.pid}`;
  await copyFile(lib, partial);
  await chmod(partial, 0o644);
  await rename(partial, dest);
  return dest;
}
