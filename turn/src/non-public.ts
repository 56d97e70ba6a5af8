// The address ranges that are not the public internet: a TURN relay must not reach them
// (turn/src/config.ts), and a session pod's egress excludes them (the operator's egress
// policy). No dependencies, so that the operator can import it alone (`@floe/turn/non-public`).

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
