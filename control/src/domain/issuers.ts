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

/**
 * Why an issuer is refused, or null when it is acceptable. `insecure`: development mode.
 * The URL's shape (no credentials, query or fragment) is checked by the request schema.
 */
export function issuerRefusal(issuer: string, opts: { insecure: boolean }): string | null {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return 'the issuer is not a URL';
  }
  if (opts.insecure) {
    return url.protocol === 'https:' || url.protocol === 'http:'
      ? null
      : 'the issuer must be an http(s) URL';
  }
  if (url.protocol !== 'https:') {
    return 'the issuer must be an https URL (plain http only in development mode)';
  }
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    return isNonPublicAddress(host)
      ? 'the issuer must not be a loopback, private or link-local address'
      : null;
  }
  const labels = host.replace(/\.$/, '').split('.');
  if (labels.length < 2) return 'the issuer’s host must be a fully qualified DNS name';
  const tld = labels[labels.length - 1] as string;
  if (INTERNAL_SUFFIXES.includes(tld) || host.endsWith('.cluster.local')) {
    return 'the issuer’s host must be a public DNS name, not a local or in-cluster one';
  }
  return null;
}
