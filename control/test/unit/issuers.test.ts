// Which identity-provider issuers a tenant admin may set: https on public hosts in
// production; anything http(s) in development mode.
import { describe, expect, it } from 'vitest';
import { isNonPublicAddress, issuerRefusal } from '../../src/domain/issuers.ts';

describe('issuerRefusal', () => {
  it.each([
    'https://login.acme.example',
    'https://login.acme.example/realms/acme',
    'https://accounts.google.com',
    'https://8.8.8.8',
    'https://[2001:4860:4860::8888]',
  ])('accepts %s in production', (issuer) => {
    expect(issuerRefusal(issuer, { insecure: false })).toBeNull();
  });

  it.each([
    'http://login.acme.example',
    'http://127.0.0.1:9000',
    'https://localhost',
    'https://LOCALHOST:8443',
    'https://acme.localhost',
    'https://127.0.0.1',
    'https://127.1.2.3:9000',
    'https://0.0.0.0',
    'https://10.1.2.3',
    'https://172.16.0.1',
    'https://172.31.255.255',
    'https://192.168.0.1',
    'https://169.254.169.254',
    'https://100.64.0.1',
    'https://[::1]',
    'https://[::ffff:127.0.0.1]',
    'https://[fd12::1]',
    'https://[fe80::1]',
    'https://keycloak',
    'https://keycloak.auth.svc.cluster.local',
    'https://keycloak.auth.svc',
    'https://idp.internal',
    'https://printer.local',
    'ftp://login.acme.example',
    'not a url',
  ])('refuses %s in production', (issuer) => {
    expect(issuerRefusal(issuer, { insecure: false })).toEqual(expect.any(String));
  });

  it('accepts plain http and loopback in development mode only', () => {
    for (const issuer of ['http://127.0.0.1:9000', 'http://localhost:1', 'https://10.0.0.1']) {
      expect(issuerRefusal(issuer, { insecure: true }), issuer).toBeNull();
      expect(issuerRefusal(issuer, { insecure: false }), issuer).not.toBeNull();
    }
    expect(issuerRefusal('ftp://x.example', { insecure: true })).not.toBeNull();
  });
});

describe('isNonPublicAddress', () => {
  it.each([
    ['127.0.0.1', true],
    ['10.255.0.1', true],
    ['172.15.0.1', false],
    ['172.16.0.1', true],
    ['172.32.0.1', false],
    ['192.168.3.4', true],
    ['169.254.169.254', true],
    ['100.63.0.1', false],
    ['100.64.0.1', true],
    ['224.0.0.1', true],
    ['93.184.216.34', false],
    ['::1', true],
    ['::', true],
    ['::ffff:10.0.0.1', true],
    ['::ffff:93.184.216.34', false],
    ['fc00::1', true],
    ['fe80::1', true],
    ['2606:2800:220:1::1', false],
  ])('%s → %s', (ip, expected) => {
    expect(isNonPublicAddress(ip)).toBe(expected);
  });
});
