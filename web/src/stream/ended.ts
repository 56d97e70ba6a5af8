/**
 * Whether the session behind the page ended, from the gateway's answer to `state` (relative to
 * the page: /sessions/{id}/state). The gateway answers its owner with the session's state and,
 * once it ended, why; anyone else, or for a session that is gone, the same 404. A page served
 * straight from a streamer does not ask, and goes on reconnecting as before.
 */

/** The gateway's answer for the session's owner. */
export interface SessionStateAnswer {
  state: string;
  ended: boolean;
  /** why it ended, for people; null while it has not */
  message: string | null;
}

export const STATE_PATH = 'state';

/** What to tell the user, or null when the session has not ended (or nobody said). */
export function endedNotice(status: number, body: unknown): string | null {
  if (typeof body !== 'object' || body === null) return null;
  if (status === 200) {
    const answer = body as Partial<SessionStateAnswer>;
    if (answer.ended !== true) return null;
    const why = typeof answer.message === 'string' ? ` ${answer.message}` : '';
    return `This session has ended.${why}`;
  }
  const code = (body as { error?: { code?: unknown } }).error?.code;
  if (status === 404 && code === 'not_found') {
    return 'This session has ended, or it is not yours.';
  }
  return null;
}

/**
 * Where to ask: `state` beside the page when the page is a gateway's stream URL
 * (/sessions/{id}/, under any prefix); null for a page a streamer serves on its own, which has
 * nobody to ask (a request there would only fail).
 */
export function stateUrl(pageHref: string): string | null {
  const url = new URL(pageHref);
  if (!/\/sessions\/[^/]+\/$/.test(url.pathname)) return null;
  return new URL(STATE_PATH, url).href;
}

/** Asks the gateway; null when it has not ended, or when the question could not be answered. */
export async function askEnded(url: string): Promise<string | null> {
  const res = await fetch(url, {
    headers: { accept: 'application/json' },
    cache: 'no-store',
    credentials: 'same-origin',
  });
  return endedNotice(res.status, await res.json().catch(() => null));
}
