// The gateway's sign-in decisions across tenants: whose ID token a tenant accepts (its
// provider's binding), and which provider URLs a production gateway may fetch.
import { describe, expect, it } from 'vitest';
import { bindingRefusal, renewalBindingRefusal } from '../../src/auth/binding.ts';
import {
  guardedFetch,
  IdentityProviderMisconfigured,
  isNonPublicAddress,
  providerUrlRefusal,
} from '../../src/auth/issuer-policy.ts';

const none = { allowedEmailDomains: [], requiredClaim: null };
const domains = { allowedEmailDomains: ['acme.test', 'corp.acme.example'], requiredClaim: null };
const claim = { allowedEmailDomains: [], requiredClaim: { name: 'org', value: 'acme' } };

describe('bindingRefusal', () => {
  it.each([
    ['no binding', { email: 'carol@globex.test' }, none],
    ['a listed domain', { email: 'bob@acme.test', email_verified: true }, domains],
    ['a listed domain, any case', { email: 'Bob@ACME.test' }, domains],
    ['another listed domain', { email: 'x@corp.acme.example' }, domains],
    ['the claim', { email: 'x@y.test', org: 'acme' }, claim],
    ['the claim in a list', { email: 'x@y.test', org: ['globex', 'acme'] }, claim],
  ])('accepts %s', (_, claims, idp) => {
    expect(bindingRefusal(claims, idp)).toBeNull();
  });

  it.each([
    ['another domain', { email: 'carol@globex.test' }, domains],
    ['a subdomain not listed', { email: 'x@evil.acme.test' }, domains],
    ['a lookalike', { email: 'x@acme.test.evil.example' }, domains],
    ['a domain in the local part', { email: 'acme.test@globex.test' }, domains],
    ['no email', {}, domains],
    ['an unverified email', { email: 'bob@acme.test', email_verified: false }, domains],
    ['no claim', { email: 'bob@acme.test' }, claim],
    ['another value', { email: 'bob@acme.test', org: 'globex' }, claim],
    ['a list without it', { email: 'bob@acme.test', org: ['globex'] }, claim],
    ['a value of another type', { email: 'bob@acme.test', org: { acme: true } }, claim],
  ])('refuses %s', (_, claims, idp) => {
    expect(bindingRefusal(claims as Record<string, unknown>, idp)).toEqual(expect.any(String));
  });
});

describe('renewalBindingRefusal', () => {
  const both = {
    allowedEmailDomains: ['acme.test'],
    requiredClaim: { name: 'org', value: 'acme' },
  };
  it.each([
    ['no refreshed claims, an email in the domains', undefined, 'bob@acme.test', null],
    ['no refreshed claims, an email outside them', undefined, 'bob@globex.test', 'refused'],
    ['refreshed claims without the claim', { sub: 'bob' }, 'bob@acme.test', null],
    ['refreshed claims with the claim', { org: 'acme' }, 'bob@acme.test', null],
    ['refreshed claims with another value', { org: 'globex' }, 'bob@acme.test', 'refused'],
    ['refreshed, unverified email', { email_verified: false }, 'bob@acme.test', 'refused'],
  ] as const)('%s', (_, fresh, email, expected) => {
    const refusal = renewalBindingRefusal(
      fresh as Record<string, unknown> | undefined,
      email,
      both,
    );
    expect(refusal === null ? null : 'refused').toBe(expected);
  });
});

describe('providerUrlRefusal', () => {
  it.each(['https://login.acme.example/.well-known/openid-configuration', 'https://8.8.8.8/token'])(
    'lets a production gateway fetch %s',
    (url) => {
      expect(providerUrlRefusal(url)).toBeNull();
    },
  );

  it.each([
    'http://login.acme.example/token',
    'https://localhost:8443/',
    'https://127.0.0.1:9000/',
    'https://[::1]/',
    'https://10.0.0.1/',
    'https://169.254.169.254/latest/meta-data',
    'https://kubernetes/',
    'https://kubernetes.default.svc/',
    'https://control.floe.svc.cluster.local/',
  ])('refuses %s', (url) => {
    expect(providerUrlRefusal(url)).toEqual(expect.any(String));
  });

  it('refuses before any connection', async () => {
    await expect(guardedFetch('https://127.0.0.1:1/x', {} as never)).rejects.toBeInstanceOf(
      IdentityProviderMisconfigured,
    );
  });
});

describe('isNonPublicAddress', () => {
  it.each([
    ['127.0.0.53', true],
    ['169.254.1.1', true],
    ['::ffff:192.168.1.1', true],
    ['1.1.1.1', false],
    ['2606:4700:4700::1111', false],
  ])('%s → %s', (ip, expected) => {
    expect(isNonPublicAddress(ip)).toBe(expected);
  });
});
