/**
 * Sharing from the stream page (issue 19), for the session's owner behind a gateway: share
 * with a user of the tenant (by email), view-only or with control, or make a link that
 * expires. The grant is made at the control plane (`/api/v1/…/grants`, as the signed-in
 * user, with the sign-in's CSRF token); a link's URL is signed by the gateway beside the page
 * (`links/{grant}`). Revoking is the API's DELETE (the launcher's job; not on this page).
 */

/** The session's id in the page's URL (/sessions/{id}/…), or null when served elsewhere. */
export function sessionIdOf(pageUrl: string): string | null {
  return /^\/sessions\/([0-9a-f-]{36})\//i.exec(new URL(pageUrl).pathname)?.[1] ?? null;
}

export type GrantRole = 'viewer' | 'control';

function csrf(): string {
  return document.cookie.match(/(?:^|; )floe_csrf=([^;]*)/)?.[1] ?? '';
}

async function call(method: string, url: string | URL, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = (await res.json().catch(() => null)) as Record<string, unknown> | null;
  if (!res.ok) {
    const error = answer?.error as { message?: string } | undefined;
    throw new Error(error?.message ?? `the gateway answered ${res.status}`);
  }
  return answer ?? {};
}

/** Makes a grant for this page's session; answers the grant (its id). */
async function grant(pageUrl: string, body: Record<string, unknown>) {
  const id = sessionIdOf(pageUrl);
  if (!id) throw new Error('sharing needs the gateway');
  const origin = new URL(pageUrl).origin;
  const me = await call('GET', `${origin}/api/v1/me`);
  const slug = (me.tenant as { slug?: string } | null)?.slug;
  if (!slug) throw new Error('no tenant to share in');
  return call('POST', `${origin}/api/v1/tenants/${slug}/sessions/${id}/grants`, body);
}

export async function shareWithUser(pageUrl: string, email: string, role: GrantRole) {
  await grant(pageUrl, { kind: 'user', user: email, role });
}

/** A new link grant and its signed URL. */
export async function makeLink(pageUrl: string, role: GrantRole, seconds = 3600) {
  const made = await grant(pageUrl, { kind: 'link', role, expiresInSeconds: seconds });
  const link = await call('GET', new URL(`links/${made.id as string}`, pageUrl));
  return link.url as string;
}
