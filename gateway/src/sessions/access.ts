// Who may reach a session's stream: its owner, and those it is shared with (streamAccess),
// only while it runs. Every refusal
// looks the same (404), so that session ids of others cannot be probed.
import type { GatewaySession } from '../control-client.ts';

export type SessionAccess = { allow: true; endpoint: string } | { allow: false };

/** The session when it is this user's; null when it is missing or another user's. */
export function ownSession(
  session: GatewaySession | null,
  user: { tenantId: string; userId: string | undefined },
): GatewaySession | null {
  if (!session || !user.userId) return null;
  if (session.tenantId !== user.tenantId || session.userId !== user.userId) return null;
  return session;
}

export function sessionAccess(
  session: GatewaySession | null,
  user: { tenantId: string; userId: string | undefined },
): SessionAccess {
  const own = ownSession(session, user);
  if (own?.state !== 'running' || !own.endpoint) return { allow: false };
  return { allow: true, endpoint: own.endpoint };
}

/**
 * What a viewer may do in a session's stream, as the streamer's viewer token says it:
 * `owner` (controls it, and manages who watches), `control` (a grant that may send input),
 * `viewer` (watches only). The streamer enforces it again (streamer/src/roles.ts).
 */
export type StreamRole = 'owner' | 'control' | 'viewer';

export type StreamAccess =
  | { allow: true; endpoint: string; role: StreamRole; grantId: string | null }
  | { allow: false };

const RANK: Record<StreamRole, number> = { viewer: 0, control: 1, owner: 2 };

/**
 * Who may reach a running session's stream, and in what role: its owner, a user of its
 * tenant it was shared with, or a user of its tenant holding a link to a live link grant
 * (`linkGrant`: the grant id a verified link names). Another tenant's user never, whatever
 * the grants say; a grant past its expiry is dead even if the control plane's answer is a
 * second old. The strongest of several grants wins.
 */
export function streamAccess(
  session: GatewaySession | null,
  user: { tenantId: string; userId: string | undefined },
  linkGrant: string | null = null,
  now = Date.now(),
): StreamAccess {
  if (!session || !user.userId || session.tenantId !== user.tenantId) return { allow: false };
  if (session.state !== 'running' || !session.endpoint) return { allow: false };
  const { endpoint } = session;
  if (session.userId === user.userId)
    return { allow: true, endpoint, role: 'owner', grantId: null };
  let best: StreamAccess = { allow: false };
  for (const g of session.grants ?? []) {
    if (g.expiresAt !== null && Date.parse(g.expiresAt) <= now) continue;
    const mine = g.kind === 'user' ? g.userId === user.userId : g.id === linkGrant;
    if (!mine) continue;
    if (!best.allow || RANK[g.role] > RANK[best.role]) {
      best = { allow: true, endpoint, role: g.role, grantId: g.id };
    }
  }
  return best;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isSessionId = (s: string) => UUID.test(s);

/**
 * PURE: the lifetime a running session has left, for the stream page's warning: in seconds
 * from now on this gateway's clock, so that the browser's clock need not agree; null when
 * its app has none.
 */
export function lifetimeLeft(
  session: Pick<GatewaySession, 'lifetime'>,
  nowMs: number,
): { seconds: number; leftSeconds: number } | null {
  const endsAtMs = session.lifetime ? Date.parse(session.lifetime.endsAt) : Number.NaN;
  if (!session.lifetime || Number.isNaN(endsAtMs)) return null;
  const leftSeconds = Math.max(0, Math.round((endsAtMs - nowMs) / 1000));
  return { seconds: session.lifetime.seconds, leftSeconds };
}

// what its owner is told of an ended session: the control plane's words, shared with the launcher
export { endedMessage } from '@floe/control/stop-reasons';
