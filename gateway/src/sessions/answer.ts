// PURE: what of a session's HTTP answer reaches the browser. The session runs the user's app,
// and any app can be hostile; its answers are served on the gateway's origin, where a page
// or a script would run with the user's sign-in (it could call /api as them). So nothing a
// session answers may act on that origin: no document or script (those content types are
// refused, the rest cannot be sniffed into one and is sandboxed), no header with an effect
// beyond the answer itself (cookies, service-worker scope, reporting, Clear-Site-Data,
// authentication prompts, …: only a list of plain headers passes), no redirect out of the
// session's own path. The stream page itself is the gateway's (routes/sessions.ts); the
// session is asked only for its signalling WebSocket and whatever else an app serves.

/**
 * The content types a session may answer with: data a browser shows as data (text, JSON,
 * pictures, media, fonts) or downloads. Never HTML, XML (SVG, XSLT), JavaScript, CSS or PDF,
 * nor anything unlisted, which a browser might render as an active document.
 */
export const PASSIVE_TYPES: ReadonlySet<string> = new Set([
  'application/json',
  'application/octet-stream',
  'text/plain',
  'text/csv',
  'text/event-stream',
  'image/png',
  'image/jpeg',
  'image/gif',
  'image/webp',
  'image/avif',
]);
export const PASSIVE_FAMILIES: readonly string[] = ['audio/', 'video/', 'font/'];

/** Whether a Content-Type value is one a session may answer with. */
export function passiveType(contentType: string): boolean {
  const essence = (contentType.split(';', 1)[0] as string).trim().toLowerCase();
  if (PASSIVE_TYPES.has(essence)) return true;
  // audio/ and video/ with a subtype that is not +xml (e.g. none), fonts
  return (
    PASSIVE_FAMILIES.some((f) => essence.startsWith(f) && essence.length > f.length) &&
    !essence.includes('xml')
  );
}

// the verdicts on the Content-Type values seen: a session answers with the same few again
// and again. Bounded, as the values are the session's to choose
const verdicts = new Map<string, boolean>();
function passiveTypeSeen(contentType: string): boolean {
  let verdict = verdicts.get(contentType);
  if (verdict === undefined) {
    verdict = passiveType(contentType);
    if (verdicts.size >= 1_000) verdicts.clear();
    verdicts.set(contentType, verdict);
  }
  return verdict;
}

/**
 * Headers of a session's answer passed on as they are: those about the body and its caching.
 * Everything else is dropped, the gateway's own security headers included (the gateway sets
 * them); `x-` headers pass except the gateway's.
 */
export const PLAIN_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'content-language',
  'content-range',
  'accept-ranges',
  'cache-control',
  'etag',
  'last-modified',
  'expires',
  'vary',
  'date',
  'age',
  'retry-after',
]);
export const GATEWAY_X_HEADERS: ReadonlySet<string> = new Set([
  'x-frame-options',
  'x-content-type-options',
  'x-xss-protection',
  'x-permitted-cross-domain-policies',
]);

/** Whether a header of a session's answer passes as it is (`name` in lower case). */
export function plainHeader(name: string): boolean {
  return PLAIN_HEADERS.has(name) || (name.startsWith('x-') && !GATEWAY_X_HEADERS.has(name));
}

/**
 * The Content-Security-Policy on every answer from a session: even if a browser treated one
 * as a document, it would be sandboxed (an opaque origin, no script) and load nothing.
 */
export const SESSION_ANSWER_CSP =
  "sandbox; default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Whether `location` (a session's redirect), read against `requestPath` (the browser's
 * `/sessions/{id}/…`), stays on this origin within that session's path.
 */
export function withinSession(location: string, requestPath: string): boolean {
  const prefix = /^\/sessions\/[^/?#]+\//.exec(requestPath)?.[0];
  if (!prefix) return false;
  const base = 'http://gateway.invalid';
  let url: URL;
  try {
    url = new URL(location, base + requestPath);
  } catch {
    return false;
  }
  return url.origin === base && url.pathname.startsWith(prefix);
}

export type SessionAnswer =
  | { ok: true; headers: (string | string[])[] }
  | { ok: false; reason: string };

/**
 * The headers the browser gets for a session's answer (of `status`), or why it gets a 502
 * instead.
 * `security`: the gateway's security headers for session answers (SESSION_ANSWER_CSP
 * among them); `cookies`: the gateway's own (a renewed sign-in).
 */
export function sessionAnswer(
  status: number,
  upstream: Record<string, string | string[] | undefined>,
  requestPath: string,
  security: readonly (readonly [string, string])[],
  cookies: readonly string[],
): SessionAnswer {
  const out: (string | string[])[] = [];
  for (const [name, value] of security) out.push(name, value);
  const type = upstream['content-type'];
  if (Array.isArray(type)) return { ok: false, reason: 'more than one content type' };
  if (type === undefined) {
    // a browser would sniff what it is: it is a download. Not on a 304, whose headers would
    // replace the cached answer's, nor on answers without a body
    if (status !== 304 && status !== 204) {
      out.push('content-type', 'application/octet-stream', 'content-disposition', 'attachment');
    }
  } else if (!passiveTypeSeen(type)) {
    return { ok: false, reason: `content type ${type.slice(0, 100)} is not served from sessions` };
  } else {
    out.push('content-type', type);
    const disposition = upstream['content-disposition'];
    if (typeof disposition === 'string' && /^\s*attachment\b/i.test(disposition)) {
      out.push('content-disposition', disposition);
    }
  }
  const location = upstream.location;
  if (location !== undefined) {
    if (typeof location !== 'string' || !withinSession(location, requestPath)) {
      return { ok: false, reason: 'a redirect out of the session' };
    }
    out.push('location', location);
  }
  for (const name in upstream) {
    const value = upstream[name];
    if (value !== undefined && plainHeader(name)) out.push(name, value);
  }
  if (cookies.length > 0) out.push('set-cookie', [...cookies]);
  return { ok: true, headers: out };
}
