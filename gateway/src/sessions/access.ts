// Who may reach a session's stream: its owner only, and only while it runs. Every refusal
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
