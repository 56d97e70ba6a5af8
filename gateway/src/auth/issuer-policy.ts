// Which identity-provider URLs the gateway may fetch. A tenant admin chooses the issuer and
// the issuer's discovery document chooses every other endpoint (JWKS, token, revocation),
// and the gateway fetches them from inside the platform's network: without a rule, a tenant
// could make the gateway call loopback ports, cloud metadata or in-cluster services (SSRF).
//
// Production (the default): https only, to public addresses; a DNS name is resolved before
// each request and refused when any of its addresses is loopback, private or link-local.
// Development mode (FLOE_DEV_INSECURE_ISSUERS=on; `npm start` and the tests with the
// testbed's plain-http provider on loopback): anything goes. The control plane applies the
// same rule, from the same module, when an admin sets an issuer.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isNonPublicAddress, providerUrlRefusal as urlRefusal } from '@floe/control/issuers';
import type { CustomFetchOptions } from 'openid-client';

export { isNonPublicAddress };

/** A tenant's identity provider cannot be used as configured (e.g. a plain-http issuer). */
export class IdentityProviderMisconfigured extends Error {}

/** Why the gateway may not fetch this URL of an identity provider in production, or null. */
export function providerUrlRefusal(href: string): string | null {
  return urlRefusal(href, { insecure: false });
}

/**
 * fetch for identity providers in production: refuses URLs the rule above refuses and DNS
 * names that resolve to a non-public address. (A name that changes its answer between this
 * lookup and the connection is not caught; the egress NetworkPolicy is the second wall.)
 */
export async function guardedFetch(href: string, options: CustomFetchOptions): Promise<Response> {
  const refused = providerUrlRefusal(href);
  if (refused) {
    throw new IdentityProviderMisconfigured(`refused to fetch ${href}: the URL ${refused}`);
  }
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
