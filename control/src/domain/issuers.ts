// Which OpenID issuers a tenant admin may set. The gateway fetches an issuer's discovery
// document, JWKS and token endpoint from inside the platform's network, so an issuer that
// names a loopback, private or in-cluster address turns sign-in into a request forgery
// (SSRF) tool. In production only https issuers on public DNS names or public addresses are
// accepted; development mode (FLOE_DEV_INSECURE_ISSUERS=on, which `npm start` and the tests
// with the testbed's plain-http provider turn on) accepts http and any host.
//
// The gateway applies the same rule again to every request it makes to a provider (after
// DNS resolution too): gateway/src/auth/issuer-policy.ts.
import { isIP } from 'node:net';
import { isNonPublicAddress } from '@floe/turn/non-public';

export { isNonPublicAddress };

/** Names that resolve inside the machine or the cluster, never on the public internet. */
const INTERNAL_SUFFIXES = ['localhost', 'local', 'internal', 'localdomain', 'svc', 'lan', 'home'];

/**
 * Why an identity provider's URL (its issuer, or an endpoint its discovery names) is refused,
 * or null when it is acceptable. `insecure`: development mode. The gateway applies it to every
 * URL it fetches from a provider; the API to the issuer an admin sets.
 */
export function providerUrlRefusal(href: string, opts: { insecure: boolean }): string | null {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return 'is not a URL';
  }
  if (opts.insecure) {
    return url.protocol === 'https:' || url.protocol === 'http:' ? null : 'must be an http(s) URL';
  }
  if (url.protocol !== 'https:') {
    return 'must be an https URL (plain http only in development mode)';
  }
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    return isNonPublicAddress(host)
      ? 'must not name a loopback, private or link-local address'
      : null;
  }
  const labels = host.replace(/\.$/, '').split('.');
  if (labels.length < 2) return 'must name a host by a fully qualified DNS name';
  const tld = labels[labels.length - 1] as string;
  if (INTERNAL_SUFFIXES.includes(tld) || host.endsWith('.cluster.local')) {
    return 'must name a public host, not a local or in-cluster one';
  }
  return null;
}

/** Why an issuer is refused, or null when it is acceptable (see providerUrlRefusal). */
export function issuerRefusal(issuer: string, opts: { insecure: boolean }): string | null {
  const refused = providerUrlRefusal(issuer, opts);
  return refused && `the issuer ${refused}`;
}
