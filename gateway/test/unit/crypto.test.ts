// The gateway's keys: loading and rotation, cookies signed and verified, values sealed for
// one purpose only, identity tokens as the control plane expects them.
import { decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { IDENTITY_AUDIENCE, mintIdentity } from '../../src/auth/identity-token.ts';
import { openLoginState, sealLoginState } from '../../src/auth/login-state.ts';
import { seal, unseal } from '../../src/auth/sealed.ts';
import { type SessionData, signSession, verifySession } from '../../src/auth/session-token.ts';
import { generateKeySet, loadKeys } from '../../src/keys.ts';

const ISSUER = 'https://floe.example';
const now = Math.floor(Date.now() / 1000);
const data: SessionData = {
  sub: 'alice',
  tenant_id: '0190c0de-0000-7000-8000-000000000001',
  tenant: 'acme',
  email: 'alice@acme.test',
  name: 'Alice',
  role: 'tenant-admin',
  csrf: 'csrf-token-csrf-token-csrf',
  signed_in_at: now,
};
const opts = { now, ttlSeconds: 900, maxSeconds: 43_200 };
const key = async () => (await generateKeySet()).keys[0]!;
const keysOf = async (...keys: object[]) => loadKeys(JSON.stringify({ keys }));

describe('keys', () => {
  it('refuses what is not a JWKS of private P-256 keys', async () => {
    await expect(loadKeys('not json')).rejects.toThrow(/FLOE_GATEWAY_KEYS: is not JSON/);
    await expect(loadKeys('{"keys":[]}')).rejects.toThrow(/at least one key/);
    const { d: _d, ...publicOnly } = await key();
    await expect(loadKeys(JSON.stringify({ keys: [publicOnly] }))).rejects.toThrow(/d/);
    const k = await key();
    await expect(keysOf(k, k)).rejects.toThrow(/unique/);
  });

  it('publishes every key, public parts only, and signs with the first', async () => {
    const [a, b] = [await key(), await key()];
    const keys = await keysOf(a, b);
    expect(keys.jwks.keys.map((k) => k.kid)).toEqual([a.kid, b.kid]);
    for (const k of keys.jwks.keys) expect(k).not.toHaveProperty('d');
    expect(keys.signing.kid).toBe(a.kid);
    // a key without kid gets its thumbprint
    const { kid: _kid, ...bare } = await key();
    expect((await keysOf(bare)).signing.kid).toMatch(/^[\w-]{43}$/);
  });

  it('generates one when none is given', async () => {
    const keys = await loadKeys(undefined);
    expect(keys.jwks.keys).toHaveLength(1);
  });
});

describe('session cookies', () => {
  it('verify after a rotation until they expire, and not with an unknown key', async () => {
    const [old, fresh] = [await key(), await key()];
    const before = await keysOf(old);
    const { token } = await signSession(before, ISSUER, data, opts);
    expect(await verifySession(before, ISSUER, token)).toMatchObject({ email: data.email });
    const rotated = await keysOf(fresh, old);
    expect(await verifySession(rotated, ISSUER, token)).toMatchObject({ email: data.email });
    expect(await verifySession(await keysOf(fresh), ISSUER, token)).toBeNull();
    expect(decodeProtectedHeader((await signSession(rotated, ISSUER, data, opts)).token).kid).toBe(
      fresh.kid,
    );
  });

  it('are refused expired, from another issuer, or malformed', async () => {
    const keys = await keysOf(await key());
    const { token } = await signSession(keys, ISSUER, data, opts);
    expect(await verifySession(keys, ISSUER, token, now + 901)).toBeNull();
    expect(await verifySession(keys, 'https://other.example', token)).toBeNull();
    for (const bad of ['', 'a.b.c', token.slice(0, -2), `${token}x`]) {
      expect(await verifySession(keys, ISSUER, bad)).toBeNull();
    }
  });
});

describe('sealed values', () => {
  it('open for their purpose and keys only', async () => {
    const [a, b] = [await key(), await key()];
    const keys = await keysOf(a);
    const sealed = await seal(keys, 'refresh-token', { rt: 'secret-refresh-token' });
    expect(sealed).not.toContain('secret');
    expect((await unseal(keys, 'refresh-token', sealed))?.rt).toBe('secret-refresh-token');
    expect(await unseal(keys, 'login-state', sealed)).toBeNull();
    expect(await unseal(await keysOf(b), 'refresh-token', sealed)).toBeNull();
    // after a rotation the previous key still opens it
    expect((await unseal(await keysOf(b, a), 'refresh-token', sealed))?.rt).toBe(
      'secret-refresh-token',
    );
  });

  it('carry the login state, and refuse anything else as one', async () => {
    const keys = await keysOf(await key());
    const state = {
      state: 's',
      nonce: 'n',
      verifier: 'v'.repeat(43),
      returnTo: '/x',
      tenant: 'acme',
      tenantId: '0b6f3c2e-6a4e-4c57-9d0e-2f7d7c1f0a11',
      redirectUri: 'https://floe.example/callback',
    };
    expect(await openLoginState(keys, await sealLoginState(keys, state))).toEqual(state);
    expect(await openLoginState(keys, undefined)).toBeNull();
    expect(await openLoginState(keys, await seal(keys, 'login-state', { state: 's' }))).toBeNull();
  });
});

describe('identity tokens', () => {
  it('carry what the control plane verifies, for 60 s', async () => {
    const keys = await keysOf(await key());
    const token = await mintIdentity(keys, ISSUER, {
      tenantId: data.tenant_id,
      email: data.email,
      name: 'n'.repeat(300),
      role: 'member',
    });
    const { payload, protectedHeader } = await jwtVerify(token, keys.verify, {
      issuer: ISSUER,
      audience: IDENTITY_AUDIENCE,
      algorithms: ['ES256'],
    });
    expect(protectedHeader.kid).toBe(keys.signing.kid);
    expect(payload).toMatchObject({ tenant_id: data.tenant_id, email: data.email, role: 'member' });
    expect(String(payload.name)).toHaveLength(200);
    expect(payload.exp! - payload.iat!).toBe(60);
    // and it is no session cookie
    expect(await verifySession(keys, ISSUER, token)).toBeNull();
    expect(decodeJwt(token).aud).toBe('floe-control');
  });
});
