// Signing in through the gateway with a real OpenID Provider and a real control plane:
// code + PKCE, the tenant by hint or host name, what the callback refuses, open redirects,
// the session cookie (flags, forgeries, rotation, renewal at the IdP) and signing out.
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintIdentity } from '../src/auth/identity-token.ts';
import { seal } from '../src/auth/sealed.ts';
import { type SessionClaims, signSession } from '../src/auth/session-token.ts';
import { generateKeySet, loadKeys } from '../src/keys.ts';
import { Browser } from './helpers/browser.ts';
import { ACME_HOST, type Stack, startStack } from './helpers/stack.ts';
import { credentials, json, signIn } from './helpers/users.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const now = () => Math.floor(Date.now() / 1000);
const cookieLine = (lines: string[], name: string) => lines.find((l) => l.startsWith(`${name}=`));
const me = (b: Browser, base = stack.url) => b.fetch(`${base}/api/v1/me`);

describe('anonymous', () => {
  it('pages are sent to sign in and come back; API calls get 401', async () => {
    const b = new Browser();
    const home = await b.fetch(`${stack.url}/`);
    expect(home.status).toBe(302);
    expect(home.headers.location).toBe('/login?returnTo=%2F');
    const stream = await b.fetch(`${stack.url}/sessions/x/page?a=1`);
    expect(stream.headers.location).toBe(
      `/login?returnTo=${encodeURIComponent('/sessions/x/page?a=1')}`,
    );
    const api = await me(b);
    expect(api.status).toBe(401);
    expect(json(api).error.code).toBe('unauthorized');
    const post = await b.fetch(`${stack.url}/api/v1/tenants/acme/sessions`, { method: 'POST' });
    expect(post.status).toBe(401);
  });

  it('/login needs a tenant it knows', async () => {
    const b = new Browser();
    const ask = await b.fetch(`${stack.url}/login?returnTo=/console`);
    expect(ask.status).toBe(400);
    expect(ask.body).toContain('<input name="tenant"');
    expect(ask.body).toContain('name="returnTo" value="/console"');
    expect((await b.fetch(`${stack.url}/login?tenant=Not%20a%20slug!`)).status).toBe(400);
    const unknown = await b.fetch(`${stack.url}/login?tenant=initech`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('There is no organisation');
  });
});

describe('signing in', () => {
  it('sends the browser to the tenant’s provider with code + PKCE S256, state and nonce', async () => {
    const b = new Browser();
    const res = await b.fetch(`${stack.url}/login?tenant=acme&returnTo=/sessions`);
    expect(res.status).toBe(302);
    const url = new URL(res.headers.location!);
    expect(url.origin + url.pathname).toBe(`${stack.op.issuer}/auth`);
    const q = url.searchParams;
    expect(q.get('client_id')).toBe('floe-gateway-acme');
    expect(q.get('response_type')).toBe('code');
    expect(q.get('redirect_uri')).toBe(`${stack.url}/callback`);
    expect(q.get('code_challenge_method')).toBe('S256');
    expect(q.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(q.get('state')).toBeTruthy();
    expect(q.get('nonce')).toBeTruthy();
    expect(q.get('scope')?.split(' ')).toContain('openid');
    const login = cookieLine(res.setCookies, 'floe_login')!;
    expect(login).toMatch(/HttpOnly/);
    expect(login).toMatch(/SameSite=Lax/);
    expect(login).toMatch(/Path=\/callback/);
    // the verifier, state and nonce are encrypted (a JWE), not merely signed
    expect(login.split(';')[0]!.split('=')[1]!.split('.')).toHaveLength(5);
  });

  it('sets the session cookie at the callback and goes back where the user was', async () => {
    const b = new Browser();
    const { tenant, ...login } = credentials('alice');
    const atCallback = await b.follow(
      `${stack.url}/login?tenant=${tenant}&returnTo=/sessions/x/?y=1`,
      {
        login,
        stopAt: (u) => u.startsWith(`${stack.url}/callback`),
      },
    );
    const callback = await b.fetch(atCallback.url);
    expect(callback.status).toBe(302);
    expect(callback.headers.location).toBe('/sessions/x/?y=1');
    const session = cookieLine(callback.setCookies, 'floe_session')!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Lax/);
    expect(session).toMatch(/Path=\//);
    expect(session).toMatch(/Max-Age=900/);
    // plain http is for loopback development only; there the cookie cannot be Secure
    expect(session).not.toMatch(/Secure/);
    const csrf = cookieLine(callback.setCookies, 'floe_csrf')!;
    expect(csrf).not.toMatch(/HttpOnly/); // the gateway's pages read it
    expect(cookieLine(callback.setCookies, 'floe_login')).toMatch(/Max-Age=0/);

    const claims = decodeJwt(b.cookie(stack.url, 'floe_session')!);
    expect(claims).toMatchObject({
      iss: stack.url,
      aud: 'floe-gateway',
      tenant_id: stack.tenants.acme.id,
      tenant: 'acme',
      email: 'alice@acme.test',
      name: 'Alice Admin',
      role: 'tenant-admin',
      uid: expect.any(String),
    });
    expect(claims.exp! - claims.iat!).toBe(900);
    // the IdP's refresh token travels sealed
    expect(String(claims.rt).split('.')).toHaveLength(5);
  });

  it('remembers the organisation for the next sign-in on the shared host', async () => {
    const b = await signIn(stack.url, 'carol');
    const again = await b.fetch(`${stack.url}/login?returnTo=/x`);
    expect(again.status).toBe(302);
    expect(new URL(again.headers.location!).searchParams.get('client_id')).toBe(
      'floe-gateway-globex',
    );
  });

  it('provisions the user at the control plane with the role from the ID token', async () => {
    const alice = await signIn(stack.url, 'alice');
    const bob = await signIn(stack.url, 'bob');
    expect(json(await me(alice))).toMatchObject({
      role: 'tenant-admin',
      tenant: { slug: 'acme' },
      user: { email: 'alice@acme.test', name: 'Alice Admin' },
    });
    expect(json(await me(bob))).toMatchObject({ role: 'member', user: { email: 'bob@acme.test' } });
    const users = await stack.admin('GET', '/v1/tenants/acme/users');
    expect(users.status).toBe(200);
    const byEmail = Object.fromEntries(
      users.body.items.map((u: { email: string; role: string }) => [u.email, u.role]),
    );
    expect(byEmail).toMatchObject({ 'alice@acme.test': 'tenant-admin', 'bob@acme.test': 'member' });
  });

  it('selects the tenant by host name, and a cookie of another tenant counts for nothing there', async () => {
    const bob = await signIn(stack.acmeUrl, 'bob', { hint: false });
    expect(bob.cookie(stack.acmeUrl, 'floe_session')).toBeTruthy();
    expect(json(await me(bob, stack.acmeUrl))).toMatchObject({ tenant: { slug: 'acme' } });

    // the host decides over a hint
    const hinted = await new Browser().fetch(`${stack.acmeUrl}/login?tenant=globex`);
    const to = new URL(hinted.headers.location!);
    expect(to.searchParams.get('client_id')).toBe('floe-gateway-acme');
    expect(to.searchParams.get('redirect_uri')).toBe(
      `http://${ACME_HOST}:${new URL(stack.url).port}/callback`,
    );

    const carol = await signIn(stack.url, 'carol');
    const cookie = carol.cookie(stack.url, 'floe_session')!;
    const planted = new Browser();
    planted.setCookie(stack.acmeUrl, 'floe_session', cookie);
    expect((await me(planted, stack.acmeUrl)).status).toBe(401);
    planted.setCookie(stack.url, 'floe_session', cookie);
    expect((await me(planted, stack.url)).status).toBe(200);
  });
});

describe('the callback', () => {
  /** Starts a sign-in and stops where the provider sends the browser back. */
  async function toCallback(b: Browser, authorizeUrl?: (url: URL) => URL) {
    const start = await b.fetch(`${stack.url}/login?tenant=acme`);
    let url = new URL(start.headers.location!);
    if (authorizeUrl) url = authorizeUrl(url);
    const { tenant: _, ...login } = credentials('bob');
    const done = await b.follow(url.href, {
      login,
      stopAt: (u) => u.startsWith(`${stack.url}/callback`),
    });
    return new URL(done.url);
  }

  it('refuses a wrong state, and cannot be replayed', async () => {
    const b = new Browser();
    const callback = await toCallback(b);
    const forged = new URL(callback);
    forged.searchParams.set('state', 'not-the-state');
    const refused = await b.fetch(forged.href);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('not valid here');
    // the login state is used up by the first try, whatever its outcome
    const replay = await b.fetch(callback.href);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('expired');
    expect((await me(b)).status).toBe(401);
  });

  it('refuses an ID token whose nonce is not the one this browser’s sign-in sent', async () => {
    // Two sign-ins; the provider is sent the second one's state and PKCE challenge with the
    // first one's nonce. Everything checks out at the callback but the nonce.
    const b = new Browser();
    const first = new URL((await b.fetch(`${stack.url}/login?tenant=acme`)).headers.location!);
    const callback = await toCallback(b, (second) => {
      second.searchParams.set('nonce', first.searchParams.get('nonce')!);
      return second;
    });
    const refused = await b.fetch(callback.href);
    expect(refused.status).toBe(400);
    expect((await me(b)).status).toBe(401);

    // the same with the right nonce signs in (so it was the nonce)
    const ok = new Browser();
    const good = await ok.fetch((await toCallback(ok)).href);
    expect(good.status).toBe(302);
    expect((await me(ok)).status).toBe(200);
  });

  it('refuses a callback without the login cookie, and shows the provider’s refusal', async () => {
    const b = new Browser();
    expect((await b.fetch(`${stack.url}/callback?code=abc&state=def`)).status).toBe(400);
    const start = await b.fetch(`${stack.url}/login?tenant=acme`);
    const state = new URL(start.headers.location!).searchParams.get('state')!;
    const denied = await b.fetch(
      `${stack.url}/callback?error=access_denied&error_description=no%20way&state=${state}`,
    );
    expect(denied.status).toBe(403);
    expect(denied.body).toContain('no way');
  });

  it.each([
    'https://evil.test/',
    '//evil.test/',
    '/\\evil.test/',
    '/.//evil.test/',
    'javascript:alert(1)',
    'evil.test',
  ])('refuses to send the browser to %s afterwards', async (returnTo) => {
    const b = new Browser();
    const { tenant, ...login } = credentials('bob');
    const atCallback = await b.follow(
      `${stack.url}/login?tenant=${tenant}&returnTo=${encodeURIComponent(returnTo)}`,
      { login, stopAt: (u) => u.startsWith(`${stack.url}/callback`) },
    );
    const callback = await b.fetch(atCallback.url);
    expect(callback.status).toBe(302);
    expect(callback.headers.location).toBe('/');
  });
});

describe('the session cookie', () => {
  let bob: Browser;
  let claims: SessionClaims;
  beforeAll(async () => {
    bob = await signIn(stack.url, 'bob');
    claims = decodeJwt(bob.cookie(stack.url, 'floe_session')!) as unknown as SessionClaims;
  });

  /** `me` with only this session cookie. */
  async function meWith(cookie: string) {
    const b = new Browser();
    b.setCookie(stack.url, 'floe_session', cookie);
    return me(b);
  }

  const data = () => {
    const { iat: _iat, exp: _exp, ...rest } = claims;
    return rest;
  };
  const sign = async (key: object, opts: { now?: number; ttl?: number } = {}) =>
    (
      await signSession(await loadKeys(JSON.stringify({ keys: [key] })), stack.url, data(), {
        now: opts.now ?? now(),
        ttlSeconds: opts.ttl ?? 900,
        maxSeconds: 43_200,
      })
    ).token;

  it('verifies the gateway’s cookies, also those signed with the previous key', async () => {
    expect((await meWith(bob.cookie(stack.url, 'floe_session')!)).status).toBe(200);
    expect((await meWith(await sign(stack.keys.previous))).status).toBe(200);
    const jwks = json(await new Browser().fetch(`${stack.url}/.well-known/jwks.json`));
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toEqual([
      stack.keys.current.kid,
      stack.keys.previous.kid,
    ]);
    for (const k of jwks.keys) expect(k).not.toHaveProperty('d');
  });

  it('refuses forged, expired, tampered and wrong-audience cookies', async () => {
    const other = (await generateKeySet()).keys[0]!;
    expect((await meWith(await sign(other))).status).toBe(401);
    expect((await meWith(await sign(stack.keys.current, { now: now() - 1000 }))).status).toBe(401);
    // an identity token (audience floe-control), signed by the gateway itself
    const keys = await loadKeys(JSON.stringify({ keys: [stack.keys.current] }));
    const identity = await mintIdentity(keys, stack.url, {
      tenantId: claims.tenant_id,
      email: claims.email,
      name: claims.name,
      role: claims.role,
    });
    expect((await meWith(identity)).status).toBe(401);
    const wrongAudience = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: keys.signing.kid, typ: 'floe-session+jwt' })
      .setIssuer(stack.url)
      .setAudience('floe-control')
      .sign(keys.signing.privateKey);
    expect((await meWith(wrongAudience)).status).toBe(401);
    // bob makes himself an admin: the signature no longer matches
    const [h, , s] = bob.cookie(stack.url, 'floe_session')!.split('.');
    const payload = Buffer.from(JSON.stringify({ ...claims, role: 'tenant-admin' })).toString(
      'base64url',
    );
    expect((await meWith(`${h}.${payload}.${s}`)).status).toBe(401);
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect((await meWith(none)).status).toBe(401);
  });

  it('is renewed past half of its life, refreshing at the identity provider', async () => {
    const old = await sign(stack.keys.current, { now: now() - 500 });
    const b = new Browser();
    b.setCookie(stack.url, 'floe_session', old);
    const res = await me(b);
    expect(res.status).toBe(200);
    const renewed = decodeJwt(b.cookie(stack.url, 'floe_session')!);
    expect(renewed.iat).toBeGreaterThanOrEqual(now() - 5);
    expect(renewed.exp! - renewed.iat!).toBe(900);
    expect(renewed).toMatchObject({
      csrf: claims.csrf,
      signed_in_at: claims.signed_in_at,
      uid: claims.uid,
    });
    expect(b.cookie(stack.url, 'floe_csrf')).toBe(claims.csrf);
    // a fresh cookie is not renewed again
    const again = await me(b);
    expect(cookieLine(again.setCookies, 'floe_session')).toBeUndefined();
  });

  it('ends at renewal when the provider refuses the refresh token', async () => {
    const keys = await loadKeys(JSON.stringify({ keys: [stack.keys.current] }));
    const cookie = bob.cookie(stack.url, 'floe_session')!;
    expect(await renewed(cookie)).toBe(200);
    const bogus = await seal(keys, 'refresh-token', { rt: 'not-a-refresh-token-of-this-provider' });
    expect(await renewed(cookie, { rt: bogus })).toBe(401);
  });
});

describe('signing out', () => {
  it('refuses a cross-site sign-out form', async () => {
    const b = await signIn(stack.url, 'alice');
    const res = await b.fetch(`${stack.url}/logout`, {
      method: 'POST',
      headers: { origin: 'https://evil.test' },
    });
    expect(res.status).toBe(403);
    expect((await me(b)).status).toBe(200);
  });

  it('ends the session here and at the provider, after which renewal ends it too', async () => {
    const b = await signIn(stack.url, 'alice');
    const cookie = b.cookie(stack.url, 'floe_session')!;
    const res = await b.fetch(`${stack.url}/logout`, {
      method: 'POST',
      headers: { origin: stack.url },
    });
    expect(res.status).toBe(302);
    const end = new URL(res.headers.location!);
    expect(end.href.startsWith(`${stack.op.issuer}/session/end`)).toBe(true);
    expect(end.searchParams.get('client_id')).toBe('floe-gateway-acme');
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${stack.url}/`);
    expect(cookieLine(res.setCookies, 'floe_session')).toMatch(/Max-Age=0/);
    expect(cookieLine(res.setCookies, 'floe_csrf')).toMatch(/Max-Age=0/);
    expect((await me(b)).status).toBe(401);

    // the user confirms at the provider, which ends its session and the grant with it
    const confirm = await b.fetch(end.href);
    const action = confirm.body.match(/action="([^"]+)"/)![1]!;
    const xsrf = confirm.body.match(/name="xsrf" value="([^"]+)"/)![1]!;
    const done = await b.fetch(new URL(action, end).href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ xsrf, logout: 'yes' }).toString(),
    });
    expect(done.headers.location).toBe(`${stack.url}/`);

    // The old cookie is a valid JWT until it expires (it is stateless); once past half its
    // life, renewal asks the provider, which no longer honours its refresh token.
    expect(await renewed(cookie)).toBe(401);
  });
});

/** `me` with `cookie` re-signed as if issued 500 s ago (past half of its 900 s). */
async function renewed(cookie: string, change: Partial<SessionClaims> = {}) {
  const { iat: _i, exp: _e, ...data } = decodeJwt(cookie) as unknown as SessionClaims;
  const stale = await signSession(
    await loadKeys(JSON.stringify({ keys: [stack.keys.current] })),
    stack.url,
    { ...data, ...change },
    { now: now() - 500, ttlSeconds: 900, maxSeconds: 43_200 },
  );
  const b = new Browser();
  b.setCookie(stack.url, 'floe_session', stale.token);
  const res = await me(b);
  if (res.status === 401) expect(cookieLine(res.setCookies, 'floe_session')).toMatch(/Max-Age=0/);
  return res.status;
}
