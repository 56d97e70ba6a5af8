// Who may reach a session's stream: its owner only, and only while it runs. Every refusal
// looks the same (404), so that session ids of others cannot be probed.
import type { GatewaySession } from '../control-client.ts';

export type SessionAccess = { allow: true; endpoint: string } | { allow: false };

export function sessionAccess(
  session: GatewaySession | null,
  user: { tenantId: string; userId: string | undefined },
): SessionAccess {
  if (!session || !user.userId) return { allow: false };
  if (session.tenantId !== user.tenantId || session.userId !== user.userId) {
    return { allow: false };
  }
  if (session.state !== 'running' || !session.endpoint) return { allow: false };
  return { allow: true, endpoint: session.endpoint };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isSessionId = (s: string) => UUID.test(s);
