// Gateway identity tokens (ES256 JWTs verified against a JWKS served over real HTTP): users
// created just in time, roles following the token, refusals, and tenant isolation.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DATABASES,
  freshDatabase,
  openEventStream,
  seedTenant,
  startTestControlPlane,
  type TestControlPlane,
} from './harness.ts';

const ISSUER = 'https://gateway.eu.floe.test';
type Keys = Awaited<ReturnType<typeof generateKeyPair>>;

describe.each(DATABASES)('gateway identity tokens on %s', (kind) => {
  let t: TestControlPlane;
  let jwks: Server;
  let jwksFetches = 0;
  let keys: Keys;
  let acme: Awaited<ReturnType<typeof seedTenant>>;
  let globex: Awaited<ReturnType<typeof seedTenant>>;

  async function sign(
    claims: JWTPayload,
    opts: {
      key?: Keys['privateKey'];
      kid?: string;
      iat?: number;
      exp?: number;
      aud?: string;
      iss?: string;
    } = {},
  ) {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: opts.kid ?? 'gw-1' })
      .setIssuer(opts.iss ?? ISSUER)
      .setAudience(opts.aud ?? 'floe-control')
      .setIssuedAt(opts.iat ?? now)
      .setExpirationTime(opts.exp ?? now + 120)
      .sign(opts.key ?? keys.privateKey);
  }

  const user = (email: string, role: 'tenant-admin' | 'member', tenantId = acme.tenant.id) => ({
    tenant_id: tenantId,
    email,
    role,
  });

  beforeAll(async () => {
    keys = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'gw-1', alg: 'ES256', use: 'sig' };
    jwks = createServer((req, res) => {
      if (req.url !== '/.well-known/jwks.json') {
        res.writeHead(404).end();
        return;
      }
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const { port } = jwks.address() as AddressInfo;
    t = await startTestControlPlane({
      ...(await freshDatabase(kind)),
      FLOE_GATEWAY_JWKS_URL: `http://127.0.0.1:${port}/.well-known/jwks.json`,
      FLOE_GATEWAY_ISSUER: ISSUER,
    });
    acme = await seedTenant(t, { slug: 'acme' });
    globex = await seedTenant(t, { slug: 'globex' });
  });
  afterAll(async () => {
    await t?.close();
    await new Promise((resolve) => jwks?.close(resolve));
  });

  it('creates the user on first sight, with the token’s role and name', async () => {
    const token = await sign({ ...user('Dana@Acme.test', 'member'), name: 'Dana Member' });
    const me = await t.call('GET', '/v1/me', { token });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({
      role: 'member',
      tenant: { id: acme.tenant.id, slug: 'acme', name: 'ACME' },
      user: { id: expect.any(String), email: 'Dana@Acme.test', name: 'Dana Member' },
    });
    const dana = await t.call('GET', '/v1/tenants/acme/users/dana@acme.test');
    expect(dana.body).toMatchObject({ id: me.body.user.id, role: 'member' });
    // the same user on the next token, whatever the case of the email
    const again = await t.call('GET', '/v1/me', {
      token: await sign(user('dana@acme.test', 'member')),
    });
    expect(again.body.user.id).toBe(me.body.user.id);
    // members' rights: their tenant's apps yes, its users no
    expect((await t.call('GET', '/v1/tenants/acme/apps', { token })).status).toBe(200);
    expect((await t.call('GET', '/v1/tenants/acme/users', { token })).status).toBe(403);
  });

  it('creates a user once under concurrent first requests', async () => {
    const token = await sign(user('erin@acme.test', 'member'));
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => t.call('GET', '/v1/me', { token })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(new Set(answers.map((a) => a.body.user.id)).size).toBe(1);
    const users = await t.call('GET', '/v1/tenants/acme/users?limit=500');
    expect(
      users.body.items.filter((u: { email: string }) => u.email === 'erin@acme.test'),
    ).toHaveLength(1);
  });

  it('follows the identity provider: the role changes with the token', async () => {
    const asAdmin = await sign({ ...user('frank@acme.test', 'tenant-admin'), name: 'Frank' });
    const first = await t.call('GET', '/v1/me', { token: asAdmin });
    expect(first.body.role).toBe('tenant-admin');
    expect((await t.call('GET', '/v1/tenants/acme/users', { token: asAdmin })).status).toBe(200);
    const frank = `/v1/tenants/acme/users/${first.body.user.id}`;
    expect((await t.call('GET', frank)).body.role).toBe('tenant-admin');

    const asMember = await sign({ ...user('frank@acme.test', 'member'), name: 'Frank F.' });
    const second = await t.call('GET', '/v1/me', { token: asMember });
    expect(second.body).toMatchObject({
      role: 'member',
      user: { id: first.body.user.id, name: 'Frank F.' },
    });
    expect((await t.call('GET', frank)).body.role).toBe('member');
    expect((await t.call('GET', '/v1/tenants/acme/users', { token: asMember })).status).toBe(403);
  });

  it('refuses a removed user, an unknown or deleted tenant, and bad claims with 401', async () => {
    const gone = await sign(user('gone@acme.test', 'member'));
    const created = await t.call('GET', '/v1/me', { token: gone });
    expect((await t.call('DELETE', `/v1/tenants/acme/users/${created.body.user.id}`)).status).toBe(
      204,
    );
    const removed = await t.call('GET', '/v1/me', {
      token: await sign(user('gone@acme.test', 'member')),
    });
    expect(removed.status).toBe(401);
    expect(removed.body.error.message).toMatch(/removed/);

    await seedTenant(t, { slug: 'doomed' });
    const doomed = (await t.call('GET', '/v1/tenants/doomed')).body.id;
    expect(
      (
        await t.call('GET', '/v1/me', {
          token: await sign(user('x@doomed.test', 'member', doomed)),
        })
      ).status,
    ).toBe(200);
    expect((await t.call('DELETE', '/v1/tenants/doomed')).status).toBe(204);

    const cases: [string, JWTPayload][] = [
      ['unknown tenant', user('x@acme.test', 'member', '00000000-0000-7000-8000-000000000000')],
      ['deleted tenant', user('x@doomed.test', 'member', doomed)],
      ['a slug for a tenant', { ...user('x@acme.test', 'member'), tenant_id: 'acme' }],
      ['platform role', { ...user('x@acme.test', 'member'), role: 'platform-admin' }],
      ['no email', { tenant_id: acme.tenant.id, role: 'member' }],
      ['bad email', { ...user('x@acme.test', 'member'), email: 'not-an-email' }],
    ];
    for (const [what, claims] of cases) {
      const r = await t.call('GET', '/v1/me', { token: await sign(claims) });
      expect(r.status, what).toBe(401);
      expect(r.body.error.code, what).toBe('unauthorized');
      expect(r.headers.get('www-authenticate'), what).toBe('Bearer');
    }
  });

  it('refuses forged, expired, stale, misaddressed and malformed tokens with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = user('dana@acme.test', 'member');
    const other = await generateKeyPair('ES256');
    const cases: [string, string, RegExp][] = [
      ['expired', await sign(claims, { iat: now - 100, exp: now - 60 }), /expired/],
      ['too old', await sign(claims, { iat: now - 600, exp: now + 60 }), /too old/],
      ['from the future', await sign(claims, { iat: now + 600, exp: now + 700 }), /future/],
      ['forged (other key, same kid)', await sign(claims, { key: other.privateKey }), /signature/],
      ['unknown key id', await sign(claims, { key: other.privateKey, kid: 'evil' }), /key/],
      ['wrong audience', await sign(claims, { aud: 'someone-else' }), /audience/],
      ['wrong issuer', await sign(claims, { iss: 'https://evil.example' }), /issuer/],
      [
        'HS256',
        await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(ISSUER)
          .setAudience('floe-control')
          .setIssuedAt()
          .sign(new Uint8Array(32)),
        /ES256/,
      ],
      ['garbage', 'abc.def.ghi', /malformed/],
    ];
    for (const [what, token, message] of cases) {
      const r = await t.call('GET', '/v1/me', { token });
      expect(r.status, what).toBe(401);
      expect(r.body.error.code, what).toBe('unauthorized');
      expect(r.body.error.message, what).toMatch(message);
    }
    // API keys still work beside tokens
    const key = await t.call('POST', '/v1/tenants/acme/api-keys', {
      body: { name: 'k', role: 'tenant-admin' },
    });
    expect((await t.call('GET', '/v1/me', { token: key.body.token })).body.role).toBe(
      'tenant-admin',
    );
  });

  it('fetches the JWKS once, not per request', async () => {
    const before = jwksFetches;
    expect(before).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) {
      const token = await sign(user('dana@acme.test', 'member'));
      expect((await t.call('GET', '/v1/me', { token })).status).toBe(200);
    }
    expect(jwksFetches).toBe(before);
  });

  it('keeps a member to their own sessions, and out of other tenants', async () => {
    const dana = await sign(user('dana@acme.test', 'member'));
    const mine = await t.call('POST', '/v1/tenants/acme/sessions', {
      token: dana,
      body: { app: 'sleeper' },
    });
    expect(mine.status).toBe(201);
    const danaId = (await t.call('GET', '/v1/me', { token: dana })).body.user.id;
    expect(mine.body.userId).toBe(danaId);
    // for someone else: refused
    const forOther = await t.call('POST', '/v1/tenants/acme/sessions', {
      token: dana,
      body: { app: 'sleeper', user: 'user@acme.test' },
    });
    expect(forOther.status).toBe(403);

    const theirs = await t.call('POST', '/v1/tenants/acme/sessions', {
      body: { app: 'sleeper', user: 'user@acme.test' },
    });
    const globexOne = await t.call('POST', '/v1/tenants/globex/sessions', {
      body: { app: 'sleeper', user: 'user@globex.test' },
    });
    expect(theirs.status).toBe(201);
    expect(globexOne.status).toBe(201);

    expect(
      (await t.call('GET', `/v1/tenants/acme/sessions/${mine.body.id}`, { token: dana })).status,
    ).toBe(200);
    const refused: [string, string][] = [
      ['GET', `/v1/tenants/acme/sessions/${theirs.body.id}`],
      ['GET', `/v1/tenants/acme/sessions/${theirs.body.id}/progress`],
      ['DELETE', `/v1/tenants/acme/sessions/${theirs.body.id}`],
      ['GET', `/v1/tenants/globex/sessions/${globexOne.body.id}`],
      ['GET', `/v1/tenants/acme/sessions/${globexOne.body.id}`],
      ['GET', `/v1/tenants/acme/sessions/${globexOne.body.id}/progress`],
      ['GET', `/v1/tenants/${globex.tenant.id}/sessions/${globexOne.body.id}/progress`],
      ['DELETE', `/v1/tenants/globex/sessions/${globexOne.body.id}`],
      ['GET', '/v1/tenants/globex'],
      ['GET', '/v1/tenants/globex/apps'],
    ];
    for (const [method, path] of refused) {
      const r = await t.call(method, path, { token: dana });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    const list = await t.call('GET', '/v1/tenants/acme/sessions', { token: dana });
    expect(list.body.items.map((s: { id: string }) => s.id)).toEqual([mine.body.id]);

    // an admin token of acme sees acme's sessions, never globex's
    const admin = await sign(user('frank@acme.test', 'tenant-admin'));
    expect(
      (await t.call('GET', `/v1/tenants/acme/sessions/${theirs.body.id}`, { token: admin })).status,
    ).toBe(200);
    expect(
      (await t.call('GET', `/v1/tenants/globex/sessions/${globexOne.body.id}`, { token: admin }))
        .status,
    ).toBe(404);

    // the member follows their own launch to its end
    const events = await openEventStream(
      `${t.url}/v1/tenants/acme/sessions/${mine.body.id}/progress`,
      dana,
    );
    expect(events.status).toBe(200);
    expect((await events.next())?.event).toBe('session');
    expect(
      (await t.call('DELETE', `/v1/tenants/acme/sessions/${mine.body.id}`, { token: dana })).status,
    ).toBe(202);
    let last: { event: string; data: string } | null;
    do last = await events.next();
    while (last && last.event !== 'end');
    expect(last && JSON.parse(last.data)).toEqual({ id: mine.body.id, state: 'stopped' });
    for (const s of [theirs, globexOne]) {
      await t.call(
        'DELETE',
        `/v1/tenants/${s === theirs ? 'acme' : 'globex'}/sessions/${s.body.id}`,
      );
    }
  });
});
