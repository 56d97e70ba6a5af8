// What the gateway's Hono app gets from Node: the request and response objects (proxying
// needs them), and for a WebSocket upgrade, the socket instead of a response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { SessionClaims } from '../auth/session-token.ts';

export interface Upgrade {
  socket: Duplex;
  head: Buffer;
}

export type GatewayEnv = {
  Bindings: {
    incoming: IncomingMessage;
    /** undefined for an upgrade: answer on `upgrade.socket` */
    outgoing: ServerResponse | undefined;
    upgrade?: Upgrade;
  };
  Variables: {
    /** the signed-in user, null when anonymous (set by the session middleware) */
    user: SessionClaims | null;
    /** for the access log */
    userLabel: string | undefined;
    /** CSP form-action of this answer, when not 'self' (see security-headers.ts) */
    formAction: string | undefined;
    /** Set-Cookie lines of this answer (see cookies.ts) */
    setCookies: string[] | undefined;
  };
};

/** @hono/node-server's marker for "the handler wrote the response itself". */
export const ALREADY_SENT_HEADER = 'x-hono-already-sent';
export const alreadySent = (res: Response) => res.headers.has(ALREADY_SENT_HEADER);
