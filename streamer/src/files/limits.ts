/**
 * Whether a transfer may go ahead, from the session's limits and the disk. Pure: the table in
 * test/files-limits.test.ts is the specification; files/store.ts measures, this decides.
 */
import type { FileErrorCode } from '../protocol.ts';

export interface FileLimits {
  /** Largest file either way; null: none. */
  maxFileBytes: number | null;
  /** Most the whole home may hold once an upload is in; null: none but the disk. */
  maxHomeBytes: number | null;
}

/** Left free on the home's disk, so that an upload never leaves the app no room to save. */
export const FREE_SPACE_RESERVE = 16 * 1024 * 1024;

export type Verdict = { ok: true } | { ok: false; code: FileErrorCode; message: string };

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** A file of `size` bytes may be sent at all (upload or download). */
export function sizeVerdict(size: number, limits: FileLimits): Verdict {
  if (limits.maxFileBytes !== null && size > limits.maxFileBytes) {
    return {
      ok: false,
      code: 'too_large',
      message: `${formatBytes(size)} is more than the ${formatBytes(limits.maxFileBytes)} a file may have in this session`,
    };
  }
  return { ok: true };
}

export interface UploadRoom {
  /** the upload's size, and how much of it is already on disk (a resume) */
  size: number;
  offset: number;
  /** bytes the home holds now (the part already uploaded included) */
  homeBytes: number;
  /** bytes free for this user on the home's file system */
  freeBytes: number;
}

/** The rest of an upload fits: under the file limit, the home's cap and the free space. */
export function uploadVerdict(room: UploadRoom, limits: FileLimits): Verdict {
  const size = sizeVerdict(room.size, limits);
  if (!size.ok) return size;
  const remaining = Math.max(0, room.size - room.offset);
  if (limits.maxHomeBytes !== null && room.homeBytes + remaining > limits.maxHomeBytes) {
    return {
      ok: false,
      code: 'quota',
      message: `the home holds ${formatBytes(room.homeBytes)} of its ${formatBytes(limits.maxHomeBytes)}; ${formatBytes(remaining)} more do not fit`,
    };
  }
  if (remaining + FREE_SPACE_RESERVE > room.freeBytes) {
    return {
      ok: false,
      code: 'no_space',
      message: `the session's disk has ${formatBytes(Math.max(0, room.freeBytes - FREE_SPACE_RESERVE))} free; ${formatBytes(remaining)} do not fit`,
    };
  }
  return { ok: true };
}
