// The testbed's OpenID Provider completes authorization code + PKCE for a test user, as a
// relying party (openid-client) sees it, and issues refresh tokens.
import * as client from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OidcProvider, startOidcProvider } from '../src/oidc.ts';

/** Follows redirects like a browser with a cookie jar, until one leaves the provider. */
async function browse(start: string, issuer: string, login?: { email: string; password: string }) {
  const jar = new Map<string, string>();
  let url = start;
  let method = 'GET';
  let body: string | undefined;
  for (let hops = 0; hops < 20; hops++) {
    const res = await fetch(url, {
      method,
      redirect: 'manual',
      body,
      headers: {
        cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(body && { 'content-type': 'application/x-www-form-urlencoded' }),
      },
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const [name, value] = (pair as string).split('=');
      jar.set(name as string, value ?? '');
    }
    const location = res.headers.get('location');
    if (location) {
      url = new URL(location, url).href;
      method = 'GET';
      body = undefined;
      if (!url.startsWith(issuer)) return { url, status: res.status };
      continue;
    }
    const page = await res.text();
    const action = page.match(/action="([^"]+)"/)?.[1];
    if (res.status === 200 && action && login) {
      url = new URL(action, url).href;
      method = 'POST';
      body = new URLSearchParams({ login: login.email, password: login.password }).toString();
      continue;
    }
    return { url, status: res.status, page };
  }
  throw new Error('too many redirects');
}

describe('OpenID Provider', () => {
  let op: OidcProvider;
  let config: client.Configuration;
  const redirectUri = 'http://127.0.0.1/callback';

  beforeAll(async () => {
    op = await startOidcProvider();
    const rp = op.clients[0]!;
    config = await client.discovery(new URL(op.issuer), rp.clientId, rp.clientSecret, undefined, {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(() => op?.stop());

  async function authorize(extra: Record<string, string> = {}) {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
      ...extra,
    });
    return { url, verifier, state, nonce };
  }

  it('publishes discovery with code flow and S256', () => {
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(op.issuer);
    expect(meta.response_types_supported).toContain('code');
    expect(meta.code_challenge_methods_supported).toContain('S256');
  });

  it('signs a test user in with code + PKCE and refreshes the tokens', async () => {
    const alice = op.users.find((u) => u.sub === 'alice')!;
    const { url, verifier, state, nonce } = await authorize();
    const done = await browse(url.href, op.issuer, {
      email: alice.email,
      password: alice.password,
    });
    expect(done.url.startsWith(redirectUri)).toBe(true);
    const tokens = await client.authorizationCodeGrant(config, new URL(done.url), {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
    });
    expect(tokens.claims()).toMatchObject({
      iss: op.issuer,
      sub: 'alice',
      email: 'alice@acme.test',
      floe_tenant: 'acme',
      floe_roles: ['tenant-admin'],
    });
    expect(tokens.refresh_token).toBeTypeOf('string');
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token as string);
    expect(refreshed.access_token).toBeTypeOf('string');
    expect(refreshed.access_token).not.toBe(tokens.access_token);
  });

  it('refuses a wrong password and an exchange without the PKCE verifier', async () => {
    const { url } = await authorize();
    const wrong = await browse(url.href, op.issuer, { email: 'bob@acme.test', password: 'nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.page).toMatch(/Wrong email or password/);

    const bob = op.users.find((u) => u.sub === 'bob')!;
    const second = await authorize();
    const done = await browse(second.url.href, op.issuer, {
      email: bob.email,
      password: bob.password,
    });
    await expect(
      client.authorizationCodeGrant(config, new URL(done.url), {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: second.state,
        expectedNonce: second.nonce,
      }),
    ).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('requires PKCE', async () => {
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid',
      state: client.randomState(),
    });
    const done = await browse(url.href, op.issuer);
    const error = new URL(done.url).searchParams;
    expect(error.get('error')).toBe('invalid_request');
    expect(error.get('error_description')).toMatch(/PKCE/);
  });
});
