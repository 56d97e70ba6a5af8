/**
 * The session's home as file transfer sees it: one upload folder and one download folder in
 * it, and nothing else. The app owns the home and may put symlinks anywhere in it, so every
 * file is opened with O_NOFOLLOW and then checked by what was really opened: the path the
 * kernel gives for the descriptor (/proc/self/fd) must be a direct child of the folder's
 * real path inside the home's real path. A folder that is (or becomes) a symlink out of the
 * home is refused, whatever race the app runs. See docs/files.md for what remains.
 */
import { constants, type Dirent } from 'node:fs';
import {
  type FileHandle,
  lstat,
  mkdir,
  mkdtemp,
  open,
  opendir,
  readlink,
  realpath,
  rename,
  rmdir,
  statfs,
  unlink,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { FileEntry } from '../protocol.ts';
import { numberedName } from './names.ts';

const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY } = constants;

/** Entries a home walk reads at most: a home larger than this is counted as this much. */
const USAGE_WALK_LIMIT = 200_000;
/** Names tried for a taken name: `a.txt`, `a (2).txt` … `a (999).txt`. */
const MAX_NUMBERED = 999;

export class OutsideHomeError extends Error {
  constructor(what: string) {
    super(`${what} is outside the session's home`);
  }
}

export class HomeFiles {
  /** the home's real path (no symlinks in it) */
  readonly root: string;
  /** whose the home is: files made as root are given to its owner */
  private readonly owner: { uid: number; gid: number } | null;

  private constructor(root: string, owner: { uid: number; gid: number } | null) {
    this.root = root;
    this.owner = owner;
  }

  static async open(home: string): Promise<HomeFiles> {
    const root = await realpath(home);
    const stat = await lstat(root);
    if (!stat.isDirectory()) throw new Error(`the home ${home} is not a folder`);
    const asRoot = process.getuid?.() === 0 && stat.uid !== 0;
    return new HomeFiles(root, asRoot ? { uid: stat.uid, gid: stat.gid } : null);
  }

  /**
   * The folder's real path, made when missing (or null when `make` is false and it is
   * missing); refused when it leads out of the home.
   */
  async folder(relative: string): Promise<string>;
  async folder(relative: string, make: false): Promise<string | null>;
  async folder(relative: string, make = true): Promise<string | null> {
    const path = join(this.root, relative);
    if (dirname(path) !== this.root) throw new OutsideHomeError(relative);
    const found = await lstat(path).catch(() => null);
    if (!found && !make) return null;
    if (!found) await this.makeFolder(path);
    const handle = await open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW).catch(async (error) => {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ELOOP' && code !== 'ENOTDIR') throw error;
      // a symlink (O_NOFOLLOW refuses it as ELOOP or, with O_DIRECTORY, ENOTDIR) or a file
      if ((await lstat(path)).isSymbolicLink()) throw new OutsideHomeError(relative);
      throw new Error(`${relative} in the home is not a folder`);
    });
    try {
      if ((await opened(handle)) !== path) throw new OutsideHomeError(relative);
    } finally {
      await handle.close();
    }
    return path;
  }

  /**
   * Makes a folder of the home as its owner's, at once: as root, a mkdir then a chown would
   * leave a moment where the app finds a folder of root's it cannot write into (and its own
   * mkdir -p succeeds on it). So the folder is made under a temporary name, given to the
   * owner, and renamed into place; when the app made one meanwhile, the app's is kept.
   */
  private async makeFolder(path: string) {
    if (!this.owner) {
      await mkdir(path, { mode: 0o755 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      return;
    }
    const temp = await mkdtemp(join(this.root, '.floe-folder-'));
    try {
      await this.own(temp, O_RDONLY | O_DIRECTORY);
      await rename(temp, path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'ENOTDIR') throw error;
    } finally {
      await rmdir(temp).catch(() => {});
    }
  }

  /** A new file in the folder under `name`, or the first free numbered name after it. */
  async create(folder: string, name: string): Promise<{ handle: FileHandle; name: string }> {
    for (let n = 1; n <= MAX_NUMBERED; n++) {
      const candidate = numberedName(name, n);
      const path = join(folder, candidate);
      let handle: FileHandle;
      try {
        handle = await open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      await this.checkInside(handle, folder, candidate, true);
      if (this.owner) await handle.chown(this.owner.uid, this.owner.gid);
      return { handle, name: candidate };
    }
    throw new Error(`${MAX_NUMBERED} files named like “${name}” are there already`);
  }

  /** An existing file of the folder opened to write on (a resumed upload); null when gone. */
  async reopen(folder: string, name: string): Promise<FileHandle | null> {
    return this.openChild(folder, name, O_WRONLY | O_NOFOLLOW);
  }

  /** An existing regular file of the folder to read; null when gone or not a file. */
  async read(folder: string, name: string): Promise<{ handle: FileHandle; size: number } | null> {
    const handle = await this.openChild(folder, name, O_RDONLY | O_NOFOLLOW);
    if (!handle) return null;
    const stat = await handle.stat();
    if (!stat.isFile()) {
      await handle.close();
      return null;
    }
    return { handle, size: stat.size };
  }

  async remove(folder: string, name: string): Promise<void> {
    // unlink never follows the last component; the folder was checked when it was resolved
    await unlink(join(folder, name)).catch(() => {});
  }

  /** The folder's regular files (no symlinks, no hidden ones), newest first. */
  async list(folder: string, max: number): Promise<FileEntry[]> {
    const entries: FileEntry[] = [];
    const dir = await opendir(folder);
    for await (const entry of dir) {
      if (!entry.isFile() || entry.name.startsWith('.')) continue;
      const stat = await lstat(join(folder, entry.name)).catch(() => null);
      if (!stat?.isFile()) continue;
      entries.push({ name: entry.name, size: stat.size, modified: Math.round(stat.mtimeMs) });
    }
    entries.sort((a, b) => b.modified - a.modified || a.name.localeCompare(b.name));
    return entries.slice(0, max);
  }

  /** Bytes the home's files take (symlinks not followed), read up to USAGE_WALK_LIMIT entries. */
  async usage(): Promise<number> {
    let total = 0;
    let seen = 0;
    const folders = [this.root];
    while (folders.length > 0 && seen < USAGE_WALK_LIMIT) {
      const folder = folders.pop()!;
      let entries: Dirent[];
      try {
        entries = [];
        for await (const e of await opendir(folder)) entries.push(e);
      } catch {
        continue; // unreadable or gone: the app's business
      }
      for (const entry of entries) {
        if (++seen > USAGE_WALK_LIMIT) break;
        const path = join(folder, entry.name);
        if (entry.isDirectory()) folders.push(path);
        else if (entry.isFile()) total += (await lstat(path).catch(() => null))?.size ?? 0;
      }
    }
    return total;
  }

  /** Bytes an unprivileged user may still write on the home's file system. */
  async free(): Promise<number> {
    const s = await statfs(this.root);
    return s.bavail * s.bsize;
  }

  private async openChild(folder: string, name: string, flags: number) {
    let handle: FileHandle;
    try {
      handle = await open(join(folder, name), flags);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (code === 'ELOOP') throw new OutsideHomeError(`“${name}”`);
      throw error;
    }
    await this.checkInside(handle, folder, name, false);
    return handle;
  }

  /** Closes (and removes, when it made it) a file that turns out to be outside the folder. */
  private async checkInside(handle: FileHandle, folder: string, name: string, made: boolean) {
    const real = await opened(handle);
    if (real === join(folder, name)) return;
    await handle.close();
    if (made) await unlink(real).catch(() => {});
    throw new OutsideHomeError(`“${name}”`);
  }

  private async own(path: string, flags: number) {
    if (!this.owner) return;
    const handle = await open(path, flags | O_NOFOLLOW);
    try {
      await handle.chown(this.owner.uid, this.owner.gid);
      if (flags & O_DIRECTORY) await handle.chmod(0o755);
    } finally {
      await handle.close();
    }
  }
}

/** The path the kernel has for what a descriptor opened. */
function opened(handle: FileHandle): Promise<string> {
  return readlink(`/proc/self/fd/${handle.fd}`);
}
