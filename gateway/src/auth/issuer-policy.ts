// Which identity-provider URLs the gateway may fetch. A tenant admin chooses the issuer and
// the issuer's discovery document chooses every other endpoint (JWKS, token, revocation),
// and the gateway fetches them from inside the platform's network: without a rule, a tenant
// could make the gateway call loopback ports, cloud metadata or in-cluster services (SSRF).
//
// Production (the default): https only, to public addresses; a DNS name is resolved before
// each request and refused when any of its addresses is loopback, private or link-local.
// Development mode (FLOE_DEV_INSECURE_ISSUERS=on; `npm start` and the tests with the
// testbed's plain-http provider on loopback): anything goes. The control plane applies the
// same rule when an admin sets an issuer (control/src/domain/issuers.ts).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { CustomFetchOptions } from 'openid-client';

/** A tenant's identity provider cannot be used as configured (e.g. a plain-http issuer). */
export class IdentityProviderMisconfigured extends Error {}

/** Names that resolve inside the machine or the cluster, never on the public internet. */
const INTERNAL_SUFFIXES = ['localhost', 'local', 'internal', 'localdomain', 'svc', 'lan', 'home'];

/** Whether an IP address (v4 or v6, no brackets) is loopback, private, link-local or alike. */
export function isNonPublicAddress(ip: string): boolean {
  const v = isIP(ip);
  if (v === 4) {
    const [a, b] = ip.split('.').map(Number) as [number, number];
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
      (a === 169 && b === 254) || // link-local, cloud metadata
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 192 && b === 0) ||
      (a === 198 && (b === 18 || b === 19)) ||
      a >= 224 // multicast, reserved, broadcast
    );
  }
  if (v === 6) {
    const s = ip.toLowerCase();
    const mapped = s.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/);
    if (mapped) return isNonPublicAddress(mapped[1] as string);
    return (
      s === '::' ||
      s === '::1' ||
      /^f[cd]/.test(s) || // unique local
      /^fe[89ab]/.test(s) || // link-local
      /^ff/.test(s) || // multicast
      s.startsWith('::ffff:') ||
      s.startsWith('64:ff9b:')
    );
  }
  return false;
}

/** Why the gateway may not fetch this URL of an identity provider in production, or null. */
export function providerUrlRefusal(href: string): string | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'https:') return 'not https (plain http only in development mode)';
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    return isNonPublicAddress(host) ? 'a loopback, private or link-local address' : null;
  }
  const labels = host.replace(/\.$/, '').split('.');
  if (labels.length < 2) return 'not a fully qualified DNS name';
  const tld = labels[labels.length - 1] as string;
  if (INTERNAL_SUFFIXES.includes(tld) || host.endsWith('.cluster.local')) {
    return 'a local or in-cluster name';
  }
  return null;
}

/**
 * fetch for identity providers in production: refuses URLs the rule above refuses and DNS
 * names that resolve to a non-public address. (A name that changes its answer between this
 * lookup and the connection is not caught; the egress NetworkPolicy is the second wall.)
 */
export async function guardedFetch(href: string, options: CustomFetchOptions): Promise<Response> {
  const refused = providerUrlRefusal(href);
  if (refused) throw new IdentityProviderMisconfigured(`refused to fetch ${href}: ${refused}`);
  const host = new URL(href).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) {
    const addresses = await lookup(host, { all: true, verbatim: true });
    const inside = addresses.find((a) => isNonPublicAddress(a.address));
    if (inside) {
      throw new IdentityProviderMisconfigured(
        `refused to fetch ${href}: ${host} resolves to the non-public address ${inside.address}`,
      );
    }
  }
  return fetch(href, options as RequestInit);
}
