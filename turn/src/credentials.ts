// TURN REST API credentials (draft-uberti-behave-turn-rest, as coturn's `use-auth-secret`
// implements it): the username carries its own expiry, and the password is an HMAC of the
// username under a secret shared with the TURN servers, so no server keeps per-user state.
import { createHmac } from 'node:crypto';

export interface TurnCredentials {
  /** `<expiry unix seconds>:<session id>` */
  username: string;
  /** base64(HMAC-SHA1(secret, username)) */
  credential: string;
  expiresAt: Date;
}

/** An RTCIceServer as browsers and werift take it. */
export interface IceServer {
  urls: string[];
  username: string;
  credential: string;
}

export const DEFAULT_TTL_SECONDS = 600;

/** The password coturn expects for `username` under `secret`. */
export function turnPassword(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

export function mintTurnCredentials(opts: {
  secret: string;
  sessionId: string;
  ttlSeconds?: number;
  now?: Date;
}): TurnCredentials {
  const { secret, sessionId, ttlSeconds = DEFAULT_TTL_SECONDS, now = new Date() } = opts;
  if (secret.length === 0) throw new Error('TURN secret is empty');
  if (sessionId.length === 0) throw new Error('session id is empty');
  // coturn splits the username at ':' (its rest-api-separator) to find the expiry.
  if (sessionId.includes(':')) {
    throw new Error(
      `session id ${JSON.stringify(sessionId)} contains ':', which TURN REST usernames reserve`,
    );
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
    throw new Error(`ttlSeconds must be a positive integer, got ${ttlSeconds}`);
  }
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new Error('now is an invalid Date');
  const expiry = Math.floor(nowMs / 1000) + ttlSeconds;
  const username = `${expiry}:${sessionId}`;
  return {
    username,
    credential: turnPassword(secret, username),
    expiresAt: new Date(expiry * 1000),
  };
}

/** The ICE servers to hand a client: every TURN URL with the same short-lived credential. */
export function iceServersFor(
  servers: readonly { urls: readonly string[] }[],
  creds: Pick<TurnCredentials, 'username' | 'credential'>,
): IceServer[] {
  return servers
    .filter((s) => s.urls.length > 0)
    .map((s) => ({ urls: [...s.urls], username: creds.username, credential: creds.credential }));
}
