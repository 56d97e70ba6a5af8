// One tenant can never sign in through, sign out through or renew with another tenant's
// identity provider, nor sign another tenant's users in; and a production gateway never
// fetches a plain-http, loopback or private "issuer" (SSRF). Real OpenID Provider (the
// testbed's oidc-provider; acme and globex share it as their issuer, as tenants on one
// corporate or SaaS provider do) and a real control plane.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { freePort } from '@floe/testbed';
import { sql } from 'drizzle-orm';
import { decodeJwt } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SessionClaims, signSession } from '../src/auth/session-token.ts';
import { loadConfig } from '../src/config.ts';
import { loadKeys } from '../src/keys.ts';
import { type Gateway, startGateway } from '../src/server.ts';
import { Browser } from './helpers/browser.ts';
import { type Stack, startStack } from './helpers/stack.ts';
import { credentials, signIn, type UserName } from './helpers/users.ts';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.close());

const now = () => Math.floor(Date.now() / 1000);
const me = (b: Browser, base = stack.url) => b.fetch(`${base}/api/v1/me`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Signs `who` in at `tenant`'s sign-in on the shared host; the last answer. */
async function signInAt(tenant: string, who: UserName) {
  const b = new Browser();
  const { tenant: _, ...login } = credentials(who);
  const done = await b.follow(`${stack.url}/login?tenant=${tenant}`, { login });
  return { b, res: done.res! };
}

/** The cookie re-signed as if issued 500 s ago (past half of its 900 s): the next request renews. */
async function stale(cookie: string) {
  const { iat: _i, exp: _e, ...data } = decodeJwt(cookie) as unknown as SessionClaims;
  const keys = await loadKeys(JSON.stringify({ keys: [stack.keys.current] }));
  return (
    await signSession(keys, stack.url, data, {
      now: now() - 500,
      ttlSeconds: 900,
      maxSeconds: 43_200,
    })
  ).token;
}

async function setIdp(slug: 'acme' | 'globex', extra: Record<string, unknown>) {
  const client = `floe-gateway-${slug}`;
  const r = await stack.admin('PUT', `/v1/tenants/${slug}/identity-provider`, {
    issuer: stack.op.issuer,
    clientId: client,
    hostnames: [`${slug}.localhost`],
    allowedEmailDomains: [],
    requiredClaim: null,
    ...extra,
  });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  // the gateway caches tenants for FLOE_GATEWAY_TENANT_CACHE_MS (1 s in the stack)
  await sleep(1_100);
}

describe('one tenant’s host names', () => {
  it('cannot be another tenant’s slug or id', async () => {
    for (const hostnames of [['acme'], [stack.tenants.acme.id]]) {
      const r = await stack.admin('PUT', '/v1/tenants/globex/identity-provider', {
        issuer: stack.op.issuer,
        clientId: 'floe-gateway-globex',
        hostnames,
      });
      expect(r.status, JSON.stringify(hostnames)).toBe(400);
    }
  });

  it('never take over another tenant’s sign-in, callback, sign-out or renewal', async () => {
    // As if globex had stored acme's slug and id as host names (older versions accepted
    // them; the migration removes such rows, the lookups must not depend on that).
    const db = stack.cp.database.db;
    const globex = stack.tenants.globex.id;
    await db.execute(
      sql`insert into tenant_hostnames (hostname, tenant_id) values ('acme', ${globex}), (${stack.tenants.acme.id}, ${globex})`,
    );
    try {
      // /login?tenant=acme goes to acme's client, not globex's
      const start = await new Browser().fetch(`${stack.url}/login?tenant=acme`);
      expect(new URL(start.headers.location!).searchParams.get('client_id')).toBe(
        'floe-gateway-acme',
      );
      // a whole sign-in (the callback redeems the code with acme's client)
      const bob = await signIn(stack.url, 'bob');
      const claims = decodeJwt(bob.cookie(stack.url, 'floe_session')!);
      expect(claims.tenant_id).toBe(stack.tenants.acme.id);
      // renewal refreshes at acme's provider and keeps bob signed in
      const renewing = new Browser();
      renewing.setCookie(
        stack.url,
        'floe_session',
        await stale(bob.cookie(stack.url, 'floe_session')!),
      );
      expect((await me(renewing)).status).toBe(200);
      // sign-out ends the session at acme's client, not globex's
      const out = await bob.fetch(`${stack.url}/logout`);
      expect(out.status).toBe(302);
      const end = new URL(out.headers.location!);
      expect(end.href.startsWith(`${stack.op.issuer}/session/end`)).toBe(true);
      expect(end.searchParams.get('client_id')).toBe('floe-gateway-acme');
    } finally {
      await db.execute(
        sql`delete from tenant_hostnames where tenant_id = ${globex} and hostname not like '%.%'`,
      );
    }
  });
});

describe('a provider shared by two tenants', () => {
  afterAll(() => setIdp('acme', {}));

  it('signs in only the tenant’s email domains', async () => {
    await setIdp('acme', { allowedEmailDomains: ['acme.test'] });
    // carol (globex.test) has an account at the shared provider
    const carol = await signInAt('acme', 'carol');
    expect(carol.res.status).toBe(403);
    expect(carol.res.body).toContain('not one this organisation signs in');
    expect((await me(carol.b)).status).toBe(401);
    expect(carol.b.cookie(stack.url, 'floe_session')).toBeUndefined();
    const bob = await signInAt('acme', 'bob');
    expect(bob.res.status).toBe(200);
    expect((await me(bob.b)).status).toBe(200);
    // and carol still signs in to her own tenant
    expect((await me(await signIn(stack.url, 'carol'))).status).toBe(200);
  });

  it('signs in only users with the required claim', async () => {
    await setIdp('acme', { requiredClaim: { name: 'floe_tenant', value: 'acme' } });
    const carol = await signInAt('acme', 'carol');
    expect(carol.res.status).toBe(403);
    expect(carol.res.body).toContain('does not place you in this organisation');
    expect((await me(carol.b)).status).toBe(401);
    const bob = await signInAt('acme', 'bob');
    expect(bob.res.status).toBe(200);
  });

  it('ends a sign-in at renewal once its user no longer belongs', async () => {
    await setIdp('acme', {});
    const bob = await signIn(stack.url, 'bob');
    const cookie = bob.cookie(stack.url, 'floe_session')!;
    await setIdp('acme', { allowedEmailDomains: ['corp.acme.example'] });
    const b = new Browser();
    b.setCookie(stack.url, 'floe_session', await stale(cookie));
    expect((await me(b)).status).toBe(401);
  });
});

describe('a production gateway (no development mode)', () => {
  let gateway: Gateway;
  let url: string;
  let hits = 0;
  let target: ReturnType<typeof createServer>;

  beforeAll(async () => {
    // what a forged issuer points at: a service on loopback, counting connections to it
    target = createServer((_req, res) => res.writeHead(404).end());
    target.on('connection', () => hits++);
    await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
    const port = (target.address() as AddressInfo).port;
    // stored as an older control plane (or one in development mode) would have accepted it
    for (const [slug, issuer] of [
      ['initech', `http://127.0.0.1:${port}`],
      ['hooli', `https://127.0.0.1:${port}`],
    ] as const) {
      expect((await stack.admin('POST', '/v1/tenants', { slug, name: slug })).status).toBe(201);
      const r = await stack.admin('PUT', `/v1/tenants/${slug}/identity-provider`, {
        issuer,
        clientId: 'c',
      });
      expect(r.status).toBe(200);
    }
    const key = await stack.admin('POST', '/v1/api-keys', { name: 'prod gw', role: 'gateway' });
    const gwPort = await freePort();
    url = `http://127.0.0.1:${gwPort}`;
    gateway = await startGateway(
      loadConfig({
        FLOE_GATEWAY_PORT: String(gwPort),
        FLOE_GATEWAY_METRICS_PORT: '0',
        FLOE_GATEWAY_ISSUER: url,
        FLOE_CONTROL_URL: stack.controlUrl,
        FLOE_GATEWAY_CONTROL_TOKEN: key.body.token,
        LOG_LEVEL: 'silent',
      }),
      pino({ level: 'silent' }),
    );
  });
  afterAll(async () => {
    await gateway?.close();
    target?.close();
  });

  it('never fetches a plain-http, loopback or private issuer', async () => {
    for (const tenant of ['initech', 'hooli', 'acme']) {
      const res = await new Browser().fetch(`${url}/login?tenant=${tenant}`);
      expect(res.status, tenant).toBe(502);
      expect(res.body, tenant).toContain('identity provider does not answer');
    }
    expect(hits).toBe(0);
  });

  it('fetches it in development mode (the control over the test above)', async () => {
    const res = await new Browser().fetch(`${stack.url}/login?tenant=initech`);
    expect(res.status).toBe(502);
    expect(hits).toBeGreaterThan(0);
  });
});
