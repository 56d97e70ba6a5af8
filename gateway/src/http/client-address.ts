// The browser's address. Behind the session edge (edge/) the gateway listens on a private
// Unix socket that only the edge can reach, and the edge says who it talks to in a header of
// its own (removed from what browsers send); on a TCP listener that header means nothing.
import type { IncomingMessage } from 'node:http';

/** The request header that carries the browser's address from the edge to the gateway. */
export const EDGE_CLIENT_HEADER = 'x-floe-edge-client';

export function clientAddress(req: IncomingMessage): string | undefined {
  const address = req.socket.remoteAddress;
  if (address !== undefined) return address;
  const said = req.headers[EDGE_CLIENT_HEADER];
  return typeof said === 'string' ? said : undefined;
}
