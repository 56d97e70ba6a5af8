import type { IceServer } from '@floe/streamer/protocol';

/**
 * The session's ICE servers from the gateway (`/sessions/{id}/turn`, relative to the stream
 * page): TURN credentials minted for this session, short-lived. A session pod's streamer has
 * no TURN settings of its own (the fleet's secret never enters a pod), so the page asks the
 * gateway and hands the servers to the streamer with its offer. Opened from a streamer
 * directly (no gateway in front), there is none: the welcome's servers, or none, are used.
 */
export async function gatewayIceServers(
  pageHref: string,
  fetcher: typeof fetch = fetch,
): Promise<IceServer[]> {
  try {
    const url = new URL('turn', pageHref);
    url.search = '';
    url.hash = '';
    const res = await fetcher(url.href, {
      credentials: 'same-origin',
      headers: { accept: 'application/json' },
    });
    if (!res.ok) return [];
    const body: unknown = await res.json();
    return parseIceServers(body);
  } catch {
    return [];
  }
}

/** PURE: the `iceServers` of the gateway's answer, or none when it is not one. */
export function parseIceServers(body: unknown): IceServer[] {
  if (!body || typeof body !== 'object' || !('iceServers' in body)) return [];
  const list = (body as { iceServers: unknown }).iceServers;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (s): s is IceServer =>
      typeof s === 'object' &&
      s !== null &&
      (typeof s.urls === 'string' ||
        (Array.isArray(s.urls) && s.urls.every((u: unknown) => typeof u === 'string'))) &&
      (s.username === undefined || typeof s.username === 'string') &&
      (s.credential === undefined || typeof s.credential === 'string'),
  );
}
