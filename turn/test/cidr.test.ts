import { describe, expect, it } from 'vitest';
import { cidrToCoturnRange, formatIp, parseCidr, parseIp } from '../src/cidr.ts';

describe('cidrToCoturnRange', () => {
  it.each([
    ['10.244.0.0/16', '10.244.0.0-10.244.255.255'],
    ['10.0.0.0/8', '10.0.0.0-10.255.255.255'],
    ['100.64.0.0/10', '100.64.0.0-100.127.255.255'],
    ['172.16.0.0/12', '172.16.0.0-172.31.255.255'],
    ['192.168.7.0/24', '192.168.7.0-192.168.7.255'],
    ['192.168.7.9/32', '192.168.7.9'],
    ['0.0.0.0/8', '0.0.0.1-0.255.255.255'],
    ['0.0.0.0/0', '0.0.0.1-255.255.255.255'],
    ['fd00:10:244::/56', 'fd00:10:244::-fd00:10:244:ff:ffff:ffff:ffff:ffff'],
    ['fc00::/7', 'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['fe80::/10', 'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['::1/128', '::1'],
    ['::ffff:0:0/96', '::ffff:0.0.0.0-::ffff:255.255.255.255'],
  ])('%s → %s', (cidr, range) => {
    expect(cidrToCoturnRange(cidr)).toBe(range);
  });

  it.each([
    ['10.244.0.0', /not a CIDR block/],
    ['10.244.0.0/33', /prefix length must be 0-32/],
    ['fd00::/129', /prefix length must be 0-128/],
    ['10.244.0.0/-1', /prefix length/],
    ['10.244.0.0/1x', /prefix length/],
    ['10.244.1.0/16', /host bits set; did you mean 10\.244\.0\.0\/16/],
    ['fd00::1/64', /did you mean fd00::\/64/],
    ['10.256.0.0/16', /not an IP address/],
    ['fe80::1%eth0/64', /not an IP address/],
    ['pods/16', /not an IP address/],
    // coturn reads a lone unspecified address as "any": it would match every peer
    ['::/128', /unspecified address/],
    ['0.0.0.0/32', /unspecified address/],
  ])('refuses %s', (cidr, error) => {
    expect(() => cidrToCoturnRange(cidr)).toThrow(error);
  });
});

describe('parseIp and formatIp', () => {
  it.each([
    ['0.0.0.0', 4, 0n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['1::', 6, 1n << 112n],
    ['2001:db8::8:800:200c:417a', 6, 0x20010db8000000000008_0800200c417an],
    ['::ffff:10.0.0.1', 6, 0xffff0a000001n],
    ['1:2:3:4:5:6:7.8.9.10', 6, 0x0001_0002_0003_0004_0005_0006_0708_090an],
  ])('%s round-trips', (ip, family, value) => {
    expect(parseIp(ip)).toEqual({ family, value });
    expect(parseIp(formatIp(family as 4 | 6, value)).value).toBe(value);
  });

  it('parses a network block', () => {
    expect(parseCidr('10.244.0.0/16')).toEqual({
      family: 4,
      first: 0x0af40000n,
      last: 0x0af4ffffn,
    });
  });
});
