// The address ranges that are not the public internet: a TURN relay must not reach them
// (turn/src/config.ts), and a session pod's egress excludes them (the operator's egress
// policy), and an identity provider's URL may not name them (control/src/domain/issuers.ts).
// Node's own modules only, so that the operator and the gateway can import it alone
// (`@floe/turn/non-public`).
import { BlockList, isIP } from 'node:net';

/**
 * Peer ranges no allocation may reach (IANA special-purpose registries, non-global entries),
 * checked after `allowed-peer-ip`, which wins. The unspecified addresses (0.0.0.0, ::) are
 * not listed: coturn refuses them as peers by itself, and cannot express them as a range.
 */
export const DENIED_PEER_CIDRS: readonly string[] = [
  '0.0.0.0/8', // "this network", unspecified
  '10.0.0.0/8', // private
  '100.64.0.0/10', // carrier-grade NAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, cloud metadata endpoints
  '172.16.0.0/12', // private
  '192.0.0.0/24', // IETF protocol assignments
  '192.0.2.0/24', // documentation
  '192.168.0.0/16', // private
  '198.18.0.0/15', // benchmarking
  '198.51.100.0/24', // documentation
  '203.0.113.0/24', // documentation
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, broadcast
  '::1/128', // loopback
  '::ffff:0:0/96', // IPv4-mapped: would reach the IPv4 ranges above
  '64:ff9b::/96', // well-known NAT64: a NAT64 gateway would relay to the IPv4 it embeds
  '64:ff9b:1::/48', // local-use NAT64
  '2002::/16', // 6to4: embeds an IPv4 address (private ones too) for a 6to4 relay
  '100::/64', // discard-only
  '2001:db8::/32', // documentation
  'fc00::/7', // unique local
  'fe80::/10', // link-local
  'fec0::/10', // site-local (deprecated)
  'ff00::/8', // multicast
];

const nonPublic = new BlockList();
for (const cidr of DENIED_PEER_CIDRS) {
  const [address, prefix] = cidr.split('/') as [string, string];
  // BlockList checks an IPv4-mapped address against the IPv4 rules, and would match every
  // IPv4 address against this IPv6 one
  if (address === '::ffff:0:0') continue;
  nonPublic.addSubnet(address, Number(prefix), isIP(address) === 4 ? 'ipv4' : 'ipv6');
}
nonPublic.addAddress('::', 'ipv6'); // unspecified: not a range above (coturn cannot take it)

/** Whether an IP address (v4 or v6, no brackets) is in one of the ranges above. */
export function isNonPublicAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return nonPublic.check(ip, family === 4 ? 'ipv4' : 'ipv6');
}
