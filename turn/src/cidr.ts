// CIDR blocks to the `first-last` address ranges that coturn's allowed-peer-ip and
// denied-peer-ip take (coturn has no CIDR syntax).
import { isIP, SocketAddress } from 'node:net';

export type IpFamily = 4 | 6;

export interface AddressRange {
  family: IpFamily;
  first: bigint;
  last: bigint;
}

const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/** An IP address as a number; throws on anything that is not a plain IPv4/IPv6 literal. */
export function parseIp(ip: string): { family: IpFamily; value: bigint } {
  const family = isIP(ip);
  if (family === 0 || ip.includes('%'))
    throw new Error(`${JSON.stringify(ip)} is not an IP address`);
  if (family === 4) return { family, value: ipv4ToBigint(ip) };
  return { family: 6, value: ipv6ToBigint(ip) };
}

export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join('.');
  }
  const groups: string[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(((value >> shift) & 0xffffn).toString(16));
  }
  // canonical (RFC 5952) text, e.g. fd00::1 rather than fd00:0:0:0:0:0:0:1
  return new SocketAddress({ address: groups.join(':'), family: 'ipv6' }).address;
}

/** `10.244.0.0/16` → 10.244.0.0 … 10.244.255.255. Host bits must be zero (a typo otherwise). */
export function parseCidr(cidr: string): AddressRange {
  const slash = cidr.indexOf('/');
  if (slash < 0) throw new Error(`${JSON.stringify(cidr)} is not a CIDR block (address/prefix)`);
  const { family, value } = parseIp(cidr.slice(0, slash));
  const prefixText = cidr.slice(slash + 1);
  const bits = BITS[family];
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
    throw new Error(`${JSON.stringify(cidr)}: prefix length must be 0-${bits}`);
  }
  const hostBits = BigInt(bits - Number(prefixText));
  const hostMask = (1n << hostBits) - 1n;
  if ((value & hostMask) !== 0n) {
    const network = formatIp(family, value & ~hostMask);
    throw new Error(
      `${JSON.stringify(cidr)} has host bits set; did you mean ${network}/${prefixText}?`,
    );
  }
  return { family, first: value, last: value | hostMask };
}

/**
 * The coturn form of a CIDR block: `a.b.c.d-e.f.g.h`, or one address for a /32 or /128.
 * coturn reads the unspecified address (0.0.0.0, ::) in a range as "no bound": a lone `::`
 * would match every peer. So ranges start after it; coturn refuses it as a peer by itself.
 */
export function cidrToCoturnRange(cidr: string): string {
  const { family, first: start, last } = parseCidr(cidr);
  if (last === 0n) {
    throw new Error(`${JSON.stringify(cidr)}: coturn cannot express the unspecified address alone`);
  }
  const first = start === 0n ? 1n : start;
  const from = formatIp(family, first);
  return first === last ? from : `${from}-${formatIp(family, last)}`;
}

function ipv4ToBigint(ip: string): bigint {
  return ip.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function ipv6ToBigint(ip: string): bigint {
  let text = ip;
  const tail: number[] = [];
  // An embedded IPv4 tail (::ffff:10.0.0.1) stands for the last two 16-bit groups.
  if (text.includes('.')) {
    const cut = text.lastIndexOf(':');
    const v4 = Number(ipv4ToBigint(text.slice(cut + 1)));
    tail.push(v4 >>> 16, v4 & 0xffff);
    text = text.slice(0, cut);
    if (text.endsWith(':')) text += ':'; // the '::' right before the IPv4 part
  }
  const groups = (part: string) =>
    part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16));
  const [headText, restText] = text.split('::') as [string, string | undefined];
  const head = groups(headText);
  const rest = restText === undefined ? [] : groups(restText);
  const zeros = restText === undefined ? 0 : 8 - head.length - rest.length - tail.length;
  return [...head, ...Array<number>(zeros).fill(0), ...rest, ...tail].reduce(
    (acc, g) => (acc << 16n) | BigInt(g),
    0n,
  );
}
