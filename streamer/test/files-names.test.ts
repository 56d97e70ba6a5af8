// File names from browsers (streamer/src/files/names.ts): what each becomes, as a table.
import { describe, expect, it } from 'vitest';
import { isPlainName, MAX_NAME_BYTES, numberedName, sanitiseName } from '../src/files/names.ts';

const long = 'a'.repeat(300);
const longEmoji = '😀'.repeat(100); // 4 bytes each

describe('sanitiseName', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['  spaced  .txt ', 'spaced  .txt'],
    ['../../etc/passwd', '.._.._etc_passwd'],
    ['..\\..\\windows\\system32', '.._.._windows_system32'],
    ['/absolute/path.txt', '_absolute_path.txt'],
    ['a\u0000b.txt', 'a_b.txt'],
    ['line\nbreak.txt', 'line_break.txt'],
    ['tab\there', 'tab_here'],
    ['del\u007fx', 'del_x'],
    ['evil\u202etxt.exe', 'evil_txt.exe'],
    ['.hidden', '.hidden'],
    ['e\u0301t\u00e9.txt', 'ét\u00e9.txt'], // NFC: one é
    ['日本語のファイル.txt', '日本語のファイル.txt'],
  ])('%j → %j', (raw, safe) => {
    expect(sanitiseName(raw)).toEqual({ ok: true, name: safe });
  });

  it.each([[''], ['   '], ['.'], ['..'], ['...'], [' .. ']])('%j is refused', (raw) => {
    const result = sanitiseName(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.code).toBe('bad_name');
  });

  it('cuts names longer than 255 bytes, keeping the extension and whole characters', () => {
    const plain = sanitiseName(`${long}.tar.gz`);
    expect(plain).toEqual({ ok: true, name: `${'a'.repeat(252)}.gz` });
    const emoji = sanitiseName(`${longEmoji}.png`);
    if (!emoji.ok) throw new Error('refused');
    expect(Buffer.byteLength(emoji.name)).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(emoji.name.endsWith('😀.png')).toBe(true);
    expect(emoji.name).not.toContain('\ufffd');
    // an extension longer than 32 bytes is cut with the rest
    const ext = sanitiseName(`x.${'e'.repeat(300)}`);
    if (!ext.ok) throw new Error('refused');
    expect(Buffer.byteLength(ext.name)).toBe(MAX_NAME_BYTES);
  });
});

describe('numberedName', () => {
  it.each([
    ['report.pdf', 1, 'report.pdf'],
    ['report.pdf', 2, 'report (2).pdf'],
    ['archive.tar.gz', 3, 'archive.tar (3).gz'],
    ['README', 2, 'README (2)'],
    ['.bashrc', 2, '.bashrc (2)'],
  ])('%j #%i → %j', (name, n, numbered) => {
    expect(numberedName(name, n)).toBe(numbered);
  });

  it('stays within 255 bytes', () => {
    const name = `${'b'.repeat(251)}.txt`;
    const numbered = numberedName(name, 12);
    expect(Buffer.byteLength(numbered)).toBe(MAX_NAME_BYTES);
    expect(numbered.endsWith(' (12).txt')).toBe(true);
  });
});

describe('isPlainName (what a download may ask for)', () => {
  it.each([
    ['notes.txt', true],
    ['../notes.txt', false],
    ['a/b', false],
    ['..', false],
    [' padded', false],
    ['', false],
  ])('%j → %s', (name, plain) => {
    expect(isPlainName(name)).toBe(plain);
  });
});
