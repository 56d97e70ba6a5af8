// Where to send the browser after signing in: a path on this gateway, never elsewhere.

const BASE = 'http://gateway.invalid';

const hasControlCharacter = (s: string) =>
  [...s].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f);

/**
 * `value` when it is a same-origin relative path (with its query and fragment), else `/`.
 * Refused: absolute URLs and schemes (`https:`, `javascript:`), protocol-relative `//host`,
 * `/\host` (browsers read a backslash as a slash), and control characters or whitespace,
 * which browsers strip before parsing.
 */
export function safeReturnTo(value: string | null | undefined): string {
  if (!value || value.length > 2048) return '/';
  if (!value.startsWith('/')) return '/';
  if (/[\\\s]/.test(value) || hasControlCharacter(value)) return '/';
  if (value.startsWith('//')) return '/';
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return '/';
  }
  if (url.origin !== BASE) return '/';
  // normalising dot segments can make a path protocol-relative: `/.//evil.example`
  if (url.pathname.startsWith('//')) return '/';
  return `${url.pathname}${url.search}${url.hash}`;
}
