// Whether a transfer may go ahead (streamer/src/files/limits.ts), as a table.
import { describe, expect, it } from 'vitest';
import {
  type FileLimits,
  FREE_SPACE_RESERVE,
  formatBytes,
  sizeVerdict,
  uploadVerdict,
} from '../src/files/limits.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const none: FileLimits = { maxFileBytes: null, maxHomeBytes: null };
const capped: FileLimits = { maxFileBytes: 100 * MiB, maxHomeBytes: GiB };

describe('uploadVerdict', () => {
  it.each([
    // limits, size, offset, homeBytes, freeBytes → code (null: allowed)
    [none, 10 * MiB, 0, 0, GiB, null],
    [none, GiB, 0, 0, GiB, 'no_space'], // the reserve must stay free
    [none, GiB - FREE_SPACE_RESERVE, 0, 0, GiB, null],
    [none, GiB, GiB - MiB, 0, 100 * MiB, null], // a resume needs room for the rest only
    [capped, 100 * MiB, 0, 0, 10 * GiB, null],
    [capped, 100 * MiB + 1, 0, 0, 10 * GiB, 'too_large'],
    [capped, 100 * MiB + 1, 100 * MiB, 0, 10 * GiB, 'too_large'], // even when resumed
    [capped, 50 * MiB, 0, GiB - 50 * MiB, 10 * GiB, null],
    [capped, 50 * MiB, 0, GiB - 50 * MiB + 1, 10 * GiB, 'quota'],
    [capped, 50 * MiB, 40 * MiB, GiB - 10 * MiB, 10 * GiB, null], // its own part counts once
    [{ maxFileBytes: 0, maxHomeBytes: null }, 1, 0, 0, GiB, 'too_large'],
    [{ maxFileBytes: 0, maxHomeBytes: null }, 0, 0, 0, GiB, null],
  ] as const)(
    '%j: %i bytes from %i, home %i, free %i → %s',
    (limits, size, offset, homeBytes, freeBytes, code) => {
      const verdict = uploadVerdict({ size, offset, homeBytes, freeBytes }, limits);
      if (code === null) expect(verdict).toEqual({ ok: true });
      else {
        expect(verdict.ok).toBe(false);
        if (!verdict.ok) {
          expect(verdict.code).toBe(code);
          expect(verdict.message.length).toBeGreaterThan(10);
        }
      }
    },
  );
});

describe('sizeVerdict', () => {
  it('names both sizes in its refusal', () => {
    const verdict = sizeVerdict(3 * GiB, capped);
    expect(verdict).toEqual({
      ok: false,
      code: 'too_large',
      message: '3.0 GiB is more than the 100 MiB a file may have in this session',
    });
    expect(sizeVerdict(3 * GiB, none)).toEqual({ ok: true });
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 bytes'],
    [1023, '1023 bytes'],
    [1536, '1.5 KiB'],
    [100 * MiB, '100 MiB'],
    [5 * GiB, '5.0 GiB'],
  ])('%i → %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });
});
