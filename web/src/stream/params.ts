import { VIDEO_CODECS, type VideoCodec } from '@floe/streamer/protocol';

/** What the page's query string asks for. */
export interface PageOptions {
  /** `relay=1`: TURN relay only (tests firewalls; forces traffic through the TURN fleet). */
  relay: boolean;
  /** `stats=1`: the stats overlay is open from the start. */
  stats: boolean;
  /** `codec=H264|VP8|VP9|AV1|H264-444|VP9-444`: the only codec offered, so the streamer must use it. */
  codec: VideoCodec | null;
  /** `back=/path`: the "back to launcher" link, same-origin only. */
  back: string | null;
}

const TRUE = new Set(['1', 'true', 'yes', 'on']);

export function parseOptions(href: string): PageOptions {
  const url = new URL(href);
  const q = url.searchParams;
  const flag = (name: string) => TRUE.has((q.get(name) ?? '').toLowerCase());
  return {
    relay: flag('relay'),
    stats: flag('stats'),
    codec: parseCodec(q.get('codec')),
    back: safeBackLink(q.get('back'), href),
  };
}

export function parseCodec(value: string | null): VideoCodec | null {
  const v = value?.trim().toUpperCase();
  return VIDEO_CODECS.find((codec) => codec === v) ?? null;
}

/**
 * The back link as a path on this page's own origin, or null. The value comes from the URL,
 * which anyone can craft, so an absolute (`https:` + a host), protocol-relative
 * (`//evil.example`, `/\evil.example`) or scripted (`javascript:`) target would turn the link
 * into an open redirect. Resolving it the way the browser will, and keeping it only when the
 * origin stays the same, catches the spellings a pattern check would miss (backslashes, tabs).
 */
export function safeBackLink(value: string | null, pageHref: string): string | null {
  if (!value) return null;
  // A path must start with '/' or '.', which also rules out every scheme.
  if (!/^[/.]/.test(value) || /^[/\\]{2}/.test(value)) return null;
  // URL parsing silently strips tabs and newlines (`/\t/host` becomes `//host`) and trims
  // control characters; a link holding any of them is refused rather than reinterpreted.
  if ([...value].some((c) => c.trim() === '' || c.charCodeAt(0) < 0x20 || c === '\x7f')) {
    return null;
  }
  let page: URL;
  let target: URL;
  try {
    page = new URL(pageHref);
    target = new URL(value, page);
  } catch {
    return null;
  }
  if (target.origin !== page.origin) return null;
  return target.pathname + target.search + target.hash;
}

/** The signalling WebSocket's URL, relative to the page so a proxy prefix is kept. */
export function signalUrl(pageHref: string, path: string): string {
  const url = new URL(path.replace(/^\//, ''), pageHref);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return url.href;
}
