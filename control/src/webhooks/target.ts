// Where a webhook may be sent. Checked on the address a name RESOLVES to, at delivery time,
// and the connection is made to that checked address (see send.ts): a name that resolves
// to a public address when the endpoint is saved and to 169.254.169.254 later is refused.
import { BlockList, isIP } from 'node:net';
import { isNonPublicAddress } from '@floe/turn/non-public';

export interface TargetPolicy {
  /** the platform allows loopback, private and link-local targets (development, tests) */
  allowPrivate: boolean;
  /** the cluster's own ranges (pod, service, node CIDRs), refused even when public */
  deniedCidrs: readonly string[];
}

export function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [address, prefix] = cidr.split('/') as [string, string | undefined];
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** Why an address may not be a webhook's target, or null when it may. */
export function addressRefusal(ip: string, policy: TargetPolicy, denied: BlockList): string | null {
  const family = isIP(ip);
  if (family === 0) return `${ip} is not an IP address`;
  if (denied.check(ip, family === 4 ? 'ipv4' : 'ipv6')) {
    return `${ip} is in the cluster's own ranges`;
  }
  if (!policy.allowPrivate && isNonPublicAddress(ip)) {
    return `${ip} is not a public address (loopback, private, link-local or reserved)`;
  }
  return null;
}

/** Why a URL may not be a webhook's target (before any lookup), or null. */
export function urlRefusal(raw: string, policy: TargetPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a URL';
  }
  if (url.protocol !== 'https:' && !(policy.allowPrivate && url.protocol === 'http:')) {
    return 'webhook URLs must be https';
  }
  if (url.username || url.password) return 'webhook URLs may not carry credentials';
  return null;
}
