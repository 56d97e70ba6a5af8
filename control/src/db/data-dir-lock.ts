// One control plane per PGlite data folder. PGlite is PostgreSQL in one process: two
// processes on one folder each believe they own it, and acknowledged writes of one are lost
// when the other writes its pages back. A lock file beside the folder names its owner.
import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/** Another live process holds the data folder. */
export class DataDirInUse extends Error {
  readonly dir: string;
  readonly pid: number;
  constructor(dir: string, owner: Owner, lockFile: string) {
    const where = owner.host === hostname() ? '' : ` on host ${owner.host}`;
    super(
      `the data folder ${resolve(dir)} is in use by another control plane (pid ${owner.pid}${where}); ` +
        'stop that one first, or give this one another FLOE_DATA_DIR or a DATABASE_URL' +
        (where ? ` (if that process is gone, remove ${resolve(lockFile)})` : ''),
    );
    this.dir = dir;
    this.pid = owner.pid;
  }
}

interface Owner {
  pid: number;
  host: string;
  /** the process's start time (clock ticks after boot), so that a reused pid is not taken for it */
  started: string;
}

function startTime(pid: number): string {
  try {
    // /proc/<pid>/stat: the command may hold spaces and parentheses; fields follow the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function readOwner(file: string): Owner | null {
  try {
    const owner = JSON.parse(readFileSync(file, 'utf8')) as Owner;
    return Number.isInteger(owner.pid) && typeof owner.host === 'string' ? owner : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    return null; // unreadable: written by no control plane of ours, stale
  }
}

/** Whether the lock's owner may still run: a process of another host is assumed alive. */
function alive(owner: Owner | null): owner is Owner {
  if (!owner) return false;
  if (owner.host !== hostname()) return true;
  // without start times, this pid's own lock can only be left by an earlier life of the pid
  if (owner.pid === process.pid && !owner.started) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !owner.started || startTime(owner.pid) === owner.started;
}

const enoent = (err: unknown) => (err as NodeJS.ErrnoException).code === 'ENOENT';

/**
 * Takes `<dir>.lock` for this process, or throws DataDirInUse naming the live owner. A lock
 * whose process is gone (killed, crashed) is taken over. The file appears with its content
 * at once (written aside, then hard-linked), so a reader never sees it half written.
 * Returns the release, which removes the lock if it is still ours.
 */
export function lockDataDir(dir: string): () => void {
  const file = `${dir}.lock`;
  const me: Owner = { pid: process.pid, host: hostname(), started: startTime(process.pid) };
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 20) throw new Error(`could not take the lock ${file}: it keeps changing`);
    writeFileSync(aside, JSON.stringify(me), { mode: 0o644 });
    try {
      linkSync(aside, file);
      unlinkSync(aside);
      break;
    } catch (err) {
      unlinkSync(aside);
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner: Owner | null;
    try {
      owner = readOwner(file);
    } catch (err) {
      if (enoent(err)) continue; // released meanwhile
      throw err;
    }
    if (alive(owner)) throw new DataDirInUse(dir, owner, file);
    // stale: move it aside (atomic), and make sure what was moved is the stale one: a
    // process racing us may have taken the lock over in between, then it is put back
    try {
      renameSync(file, aside);
    } catch (err) {
      if (enoent(err)) continue;
      throw err;
    }
    const moved = readOwner(aside);
    if (alive(moved)) {
      try {
        linkSync(aside, file);
      } catch {}
      unlinkSync(aside);
      throw new DataDirInUse(dir, moved, file);
    }
    unlinkSync(aside);
  }
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off('exit', release);
    try {
      const owner = readOwner(file);
      if (owner?.pid === me.pid && owner.host === me.host && owner.started === me.started) {
        unlinkSync(file);
      }
    } catch {}
  };
  process.on('exit', release);
  return release;
}
