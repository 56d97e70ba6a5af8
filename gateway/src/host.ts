// Host names: which tenant a Host header may select, and the origin a request was made to.
import { isIP } from 'node:net';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export const isLoopbackHost = (hostname: string) => LOOPBACK.has(hostname.toLowerCase());

// host [":" port], the host a DNS name, an IPv4 address or a bracketed IPv6 address
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::\d{1,5})?$/i;

/** The host name of a Host header value (no port), lowercased; null when it is not one. */
export function hostnameOf(host: string | undefined): string | null {
  const match = host?.match(HOST_HEADER);
  return match ? (match[1] as string).toLowerCase() : null;
}

/**
 * The host name to look a tenant up by, or null when this Host cannot name a tenant: the
 * gateway's own host, IP literals (health checks by pod IP) and single-label names.
 */
export function tenantHostname(host: string | undefined, gatewayOrigin: string): string | null {
  const hostname = hostnameOf(host);
  if (!hostname) return null;
  if (hostname === new URL(gatewayOrigin).hostname) return null;
  if (isIP(hostname.replace(/^\[|\]$/g, '')) !== 0) return null;
  if (!hostname.includes('.')) return null;
  return hostname;
}

/**
 * The origin the browser addressed: the gateway's scheme with the request's Host. A browser
 * cannot be made to send a Host other than the one it connects to, so this is what its
 * same-origin requests carry in Origin.
 */
export function requestOrigin(host: string | undefined, gatewayOrigin: string): string {
  const hostname = hostnameOf(host);
  if (!hostname || !host) return gatewayOrigin;
  const scheme = new URL(gatewayOrigin).protocol;
  return new URL(`${scheme}//${host}`).origin;
}
