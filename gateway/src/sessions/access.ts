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

/**
 * What its owner is told of an ended session: who or what ended it, from the control plane's
 * reason (see its DELETE route, its lifetime check and the drivers' idle stop).
 */
export function endedMessage(state: string, reason: string | null | undefined): string {
  if (state === 'failed') return `It failed: ${reason ?? 'no reason was given'}.`;
  if (reason === 'stopped by its user') return 'You shut it down.';
  if (reason === 'stopped by an admin') return 'An admin shut it down.';
  if (reason === 'maximum lifetime reached') return 'It reached its maximum lifetime.';
  if (reason?.startsWith('idle')) return `It was idle for too long (${reason}).`;
  return reason ? `It stopped: ${reason}.` : 'It stopped.';
}
