/**
 * File names from browsers, made safe to use as one name in one folder. Pure: the table in
 * test/files-names.test.ts is the specification.
 *
 * A name never names a path: separators and control characters become `_`, so
 * `../../etc/passwd` is the harmless single name `.._.._etc_passwd`. Names of only dots (`.`,
 * `..`) and empty ones are refused. Linux allows 255 bytes per name: longer ones are cut,
 * keeping the extension and never splitting a character.
 */
import type { FileErrorCode } from '../protocol.ts';

export const MAX_NAME_BYTES = 255;
/** The longest extension kept whole when a name is cut. */
const MAX_EXTENSION_BYTES = 32;

export type NameResult =
  | { ok: true; name: string }
  | { ok: false; code: FileErrorCode; message: string };

// C0 and C1 controls, DEL, the separators of POSIX and Windows, and the bidi overrides that
// make `exe.txt` look like `txt.exe`
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes
const UNSAFE = /[\u0000-\u001f\u007f-\u009f/\\\u202a-\u202e\u2066-\u2069]/g;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/** The longest prefix of `s` that fits in `max` UTF-8 bytes, whole code points only. */
function cutToBytes(s: string, max: number): string {
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = bytes(ch);
    if (used + n > max) break;
    out += ch;
    used += n;
  }
  return out;
}

/** Splits `name.tar.gz` as `name.tar` + `.gz`; a leading dot is no extension. */
export function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

/** `stem` + `suffix` + `ext`, the stem cut so that the whole fits in MAX_NAME_BYTES. */
function fit(stem: string, suffix: string, ext: string): string {
  const keepExt = bytes(ext) <= MAX_EXTENSION_BYTES ? ext : '';
  const room = MAX_NAME_BYTES - bytes(suffix) - bytes(keepExt);
  const cutStem = cutToBytes(keepExt ? stem : stem + ext, room);
  return cutStem + suffix + keepExt;
}

export function sanitiseName(raw: string): NameResult {
  const cleaned = raw.normalize('NFC').replace(UNSAFE, '_').trim();
  if (cleaned === '' || /^\.+$/.test(cleaned)) {
    return { ok: false, code: 'bad_name', message: `“${raw.slice(0, 64)}” is not a file name` };
  }
  if (bytes(cleaned) <= MAX_NAME_BYTES) return { ok: true, name: cleaned };
  const [stem, ext] = splitExtension(cleaned);
  return { ok: true, name: fit(stem, '', ext) };
}

/** The n-th alternative to a taken name: `report.pdf` → `report (2).pdf`; n = 1 is the name. */
export function numberedName(name: string, n: number): string {
  if (n <= 1) return name;
  const [stem, ext] = splitExtension(name);
  return fit(stem, ` (${n})`, ext);
}

/**
 * A name a download may ask for: exactly a name the listing could show (already safe), so
 * that no rewriting turns a request for one file into another.
 */
export function isPlainName(name: string): boolean {
  const result = sanitiseName(name);
  return result.ok && result.name === name;
}
