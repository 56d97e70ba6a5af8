// What the gateway does for signed-in users, against a real control plane: /api forwarded
// with their identity (and only theirs), CSRF and rate limits, launch progress streamed
// through, /sessions/{id}/ (HTTP and WebSocket) for the owner only, TURN credentials,
// Istio's ext_authz check, and the gateway's own endpoints.
import type { Socket } from 'node:net';
import { turnPassword } from '@floe/turn';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { Browser } from './helpers/browser.ts';
import { type Stack, startStack } from './helpers/stack.ts';
import { call, json, openWebSocket, signIn, upgrade } from './helpers/users.ts';

let stack: Stack;
let alice: Browser;
let bob: Browser;
let carol: Browser;
beforeAll(async () => {
  stack = await startStack({ turn: true, webApp: true });
  [alice, bob, carol] = (await Promise.all(
    (['alice', 'bob', 'carol'] as const).map((u) => signIn(stack.url, u)),
  )) as [Browser, Browser, Browser];
});
afterAll(() => stack?.close());

const launch = (b: Browser, tenant = 'acme') =>
  call(b, stack.url, 'POST', `/api/v1/tenants/${tenant}/sessions`, { app: 'desktop' });

async function running(b: Browser, id: string, tenant = 'acme') {
  for (let i = 0; i < 100; i++) {
    const s = json(await call(b, stack.url, 'GET', `/api/v1/tenants/${tenant}/sessions/${id}`));
    if (s.state === 'running') return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('session not running');
}

async function eventually(check: () => Promise<boolean>, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const ws = (path: string) => `${stack.url.replace('http', 'ws')}${path}`;

describe('/api', () => {
  it('forwards to the control plane as the signed-in user', async () => {
    const apps = await call(alice, stack.url, 'GET', '/api/v1/tenants/acme/apps');
    expect(apps.status).toBe(200);
    expect(json(apps).items.map((a: { slug: string }) => a.slug)).toEqual(['desktop']);
    // the control plane scopes by the identity: another tenant is not there for bob
    expect((await call(bob, stack.url, 'GET', '/api/v1/tenants/globex/apps')).status).toBe(404);
    // members cannot do what admins can
    const users = await call(bob, stack.url, 'GET', '/api/v1/tenants/acme/users');
    expect(users.status).toBe(403);
    expect((await call(alice, stack.url, 'GET', '/api/v1/tenants/acme/users')).status).toBe(200);
  });

  it('reaches the user API only, not the gateways’ routes nor the control plane’s own', async () => {
    for (const path of [
      '/api/v1/gateway/tenants/acme',
      '/api/metrics',
      '/api/healthz',
      '/api/docs',
    ]) {
      expect((await call(alice, stack.url, 'GET', path)).status).toBe(404);
    }
  });

  it('refuses cross-site and tokenless state changes (CSRF)', async () => {
    const path = '/api/v1/tenants/acme/sessions';
    const body = { app: 'desktop' };
    const token = bob.cookie(stack.url, 'floe_csrf')!;
    const refused: Record<string, string>[] = [
      { origin: 'https://evil.test', 'x-csrf-token': token },
      { origin: 'null', 'x-csrf-token': token },
      { referer: 'https://evil.test/page', 'x-csrf-token': token },
      { origin: stack.url, 'x-csrf-token': '' },
      { origin: stack.url, 'x-csrf-token': 'guessed-guessed-guessed' },
    ];
    for (const headers of refused) {
      const res = await bob.fetch(stack.url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect(json(res).error.code).toBe('csrf');
    }
    // without the cookie half of the double submit
    const noCookie = await bob.fetch(stack.url + path, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        origin: stack.url,
        'x-csrf-token': token,
        cookie: `floe_session=${bob.cookie(stack.url, 'floe_session')}`,
      },
      body: JSON.stringify(body),
    });
    expect(noCookie.status).toBe(403);
    expect((await call(bob, stack.url, 'GET', `${path}?state=active`)).status).toBe(200);
    const json404 = await call(bob, stack.url, 'GET', '/api/v1/tenants/acme/sessions');
    expect(json(json404).items).toEqual([]); // nothing was launched by the refused requests
  });

  it('limits request bodies', async () => {
    const res = await call(bob, stack.url, 'POST', '/api/v1/tenants/acme/sessions', {
      app: 'x'.repeat(100 * 1024),
    });
    expect(res.status).toBe(413);
  });

  it('streams launch progress (server-sent events) as it happens', async () => {
    const launched = await launch(bob);
    expect(launched.status).toBe(201);
    const id = json(launched).id;
    await running(bob, id);
    const res = await fetch(`${stack.url}/api/v1/tenants/acme/sessions/${id}/progress`, {
      headers: { cookie: `floe_session=${bob.cookie(stack.url, 'floe_session')}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (pattern: RegExp) => {
      while (!pattern.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
        text += new TextDecoder().decode(value);
      }
    };
    // the first event arrives while the stream stays open...
    await until(/event: session\ndata: .*"state":"running"/);
    expect(text).not.toMatch(/event: end/);
    // ...and the next ones as the session changes
    const stop = await call(bob, stack.url, 'DELETE', `/api/v1/tenants/acme/sessions/${id}`);
    expect([200, 202]).toContain(stop.status);
    await until(/event: end\ndata: .*"state":"stopped"/);
  });

  it('lets a browser leave a progress stream without an error', async () => {
    const errors = vi.spyOn(console, 'error');
    const launched = json(await launch(bob));
    const aborter = new AbortController();
    const res = await fetch(`${stack.url}/api/v1/tenants/acme/sessions/${launched.id}/progress`, {
      headers: { cookie: `floe_session=${bob.cookie(stack.url, 'floe_session')}` },
      signal: aborter.signal,
    });
    await res.body!.getReader().read();
    aborter.abort();
    await new Promise((r) => setTimeout(r, 200));
    expect(errors).not.toHaveBeenCalled();
    errors.mockRestore();
    await call(bob, stack.url, 'DELETE', `/api/v1/tenants/acme/sessions/${launched.id}`);
  });

  it('passes a quota refusal through as the control plane wrote it (429 naming the quota)', async () => {
    expect(
      (await stack.admin('PATCH', '/v1/tenants/acme', { quotas: { maxSessions: 0 } })).status,
    ).toBe(200);
    try {
      const refused = await launch(alice);
      expect(refused.status).toBe(429);
      expect(json(refused).error).toEqual({
        code: 'quota_exceeded',
        quota: 'tenant.maxSessions',
        limit: 0,
        used: expect.any(Number),
        message: expect.stringMatching(/^quota tenant\.maxSessions exceeded: the tenant allows 0/),
      });
      expect(refused.headers['retry-after']).toBe('30');
    } finally {
      await stack.admin('PATCH', '/v1/tenants/acme', { quotas: { maxSessions: null } });
    }
  });

  it('limits launches per user (429 with Retry-After)', async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof launch>> | undefined;
    // the stack allows 8 a minute
    for (let i = 0; i < 9; i++) {
      last = await launch(carol, 'globex');
      statuses.push(last.status);
    }
    expect(statuses).toEqual([...Array(8).fill(201), 429]);
    expect(json(last!).error.code).toBe('rate_limited');
    expect(Number(last!.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // per user: bob of the same gateway still launches
    const other = await launch(bob);
    expect(other.status).toBe(201);
    await call(bob, stack.url, 'DELETE', `/api/v1/tenants/acme/sessions/${json(other).id}`);
  });
});

describe('/sessions/{id}/', () => {
  let id: string;
  beforeAll(async () => {
    const launched = await launch(bob);
    id = json(launched).id;
    await running(bob, id);
  });

  it('redirects to the trailing slash, where the stream page resolves `signal`', async () => {
    const res = await bob.fetch(`${stack.url}/sessions/${id}?stats=1`);
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe(`/sessions/${id}/?stats=1`);
  });

  it('serves the stream page and its bundle from the gateway’s own build, not the session', async () => {
    const before = stack.echo.requests.length;
    const page = await bob.fetch(`${stack.url}/sessions/${id}/?relay=1`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('<title>Floe stream</title>');
    expect(page.headers['content-security-policy']).toMatch(/^default-src 'self'/);
    const js = await bob.fetch(`${stack.url}/sessions/${id}/stream.js`);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.body).toContain('Floe stream');
    expect(stack.echo.requests.length).toBe(before);
    // the bundle's other files are the gateway's too: one not built is not there
    expect((await bob.fetch(`${stack.url}/sessions/${id}/stream.css`)).status).toBe(404);
    expect(stack.echo.requests.length).toBe(before);
  });

  it('proxies other HTTP to the session’s endpoint for its owner, without the gateway’s cookies', async () => {
    const res = await bob.fetch(`${stack.url}/sessions/${id}/files/data.json?v=2`);
    expect(res.status).toBe(200);
    expect(res.headers['x-stand-in']).toBe('echo');
    const seen = json(res);
    expect(seen.path).toBe(`/s/${id}/files/data.json?v=2`);
    expect(seen.headers.cookie).toBeUndefined();
    expect(seen.headers['x-csrf-token']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    // the gateway's security headers are on proxied answers too, its CSP a sandbox
    expect(res.headers['content-security-policy']).toMatch(/^sandbox; default-src 'none'/);
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('proxies the signalling WebSocket for its owner', async () => {
    const socket = await openWebSocket(ws(`/sessions/${id}/signal`), {
      cookie: bob.cookieHeader(stack.url),
      origin: stack.url,
    });
    const hello = JSON.parse(await socket.next());
    expect(hello.path).toBe(`/s/${id}/signal`);
    expect(hello.headers.cookie).toBeUndefined();
    socket.ws.send('ping through the gateway');
    expect(await socket.next()).toBe('ping through the gateway');
    const metrics = await (await fetch(stack.gateway.metricsUrl)).text();
    expect(metrics).toMatch(/^floe_gateway_websockets_open 1$/m);
    await socket.close();
    await eventually(async () =>
      /^floe_gateway_websockets_open 0$/m.test(
        await (await fetch(stack.gateway.metricsUrl)).text(),
      ),
    );
  });

  it('is 404 for another user of the tenant (an admin too) and for another tenant’s user', async () => {
    for (const b of [alice, carol]) {
      expect((await b.fetch(`${stack.url}/sessions/${id}/`)).status).toBe(404);
      expect((await b.fetch(`${stack.url}/sessions/${id}/stream.js`)).status).toBe(404);
      const handshake = await upgrade(ws(`/sessions/${id}/signal`).replace('ws', 'http'), {
        cookie: b.cookieHeader(stack.url),
        origin: stack.url,
      });
      expect(handshake.status).toBe(404);
    }
  });

  it('is 404 for unknown sessions, exactly like another user’s', async () => {
    const unknown = await bob.fetch(`${stack.url}/sessions/01a2a3a4-0000-7000-8000-000000000000/`);
    expect(unknown.status).toBe(404);
    const other = await alice.fetch(`${stack.url}/sessions/${id}/`);
    expect(other.body).toBe(unknown.body);
    expect((await bob.fetch(`${stack.url}/sessions/not-a-uuid/`)).status).toBe(404);
  });

  it('checks the cookie and the Origin of WebSocket upgrades', async () => {
    const url = `${stack.url}/sessions/${id}/signal`;
    const cookie = bob.cookieHeader(stack.url);
    expect((await upgrade(url, { origin: stack.url })).status).toBe(401);
    expect((await upgrade(url, { cookie, origin: 'https://evil.test' })).status).toBe(403);
    expect((await upgrade(url, { cookie })).status).toBe(403);
    const ok = await upgrade(url, { cookie, origin: stack.url });
    expect(ok.status).toBe(101);
    // a browser that goes away resets its connection: the gateway lives on
    (ok.socket as Socket).resetAndDestroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);
    // WebSockets exist under /sessions/ only, and there only the signalling
    expect((await upgrade(`${stack.url}/api/v1/me`, { cookie, origin: stack.url })).status).toBe(
      404,
    );
    for (const path of ['/', '/x', '/signal/x']) {
      const other = await upgrade(`${stack.url}/sessions/${id}${path}`, {
        cookie,
        origin: stack.url,
      });
      expect(other.status, path).toBe(404);
    }
  });

  it('refuses cross-site state changes under /sessions/', async () => {
    const res = await bob.fetch(`${stack.url}/sessions/${id}/clipboard`, {
      method: 'POST',
      headers: { origin: 'https://evil.test' },
      body: 'x',
    });
    expect(res.status).toBe(403);
  });

  it('hands the owner ICE servers: healthy TURN servers with credentials for this session', async () => {
    await stack.gateway.deps.turn!.checkNow();
    const { turn } = inject('testbed');
    const res = await bob.fetch(`${stack.url}/sessions/${id}/turn`);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const { iceServers, expiresAt } = json(res);
    expect(iceServers).toHaveLength(1);
    const [server] = iceServers;
    expect(server.urls).toEqual([turn.url]);
    const [expiry, sessionId] = server.username.split(':');
    expect(sessionId).toBe(id);
    expect(Number(expiry) * 1000).toBe(Date.parse(expiresAt));
    expect(Number(expiry)).toBeGreaterThan(Date.now() / 1000 + 3000);
    expect(server.credential).toBe(turnPassword(turn.secret, server.username));
    for (const b of [alice, carol]) {
      expect((await b.fetch(`${stack.url}/sessions/${id}/turn`)).status).toBe(404);
    }
  });

  it('is 404 once the session has stopped', async () => {
    await call(bob, stack.url, 'DELETE', `/api/v1/tenants/acme/sessions/${id}`);
    for (let i = 0; i < 100; i++) {
      const s = json(await call(bob, stack.url, 'GET', `/api/v1/tenants/acme/sessions/${id}`));
      if (s.state === 'stopped') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect((await bob.fetch(`${stack.url}/sessions/${id}/`)).status).toBe(404);
  });
});

describe('ext_authz (Istio)', () => {
  let id: string;
  beforeAll(async () => {
    id = json(await launch(bob)).id;
    await running(bob, id);
  });
  afterAll(() => call(bob, stack.url, 'DELETE', `/api/v1/tenants/acme/sessions/${id}`));

  const check = (
    b: Browser | null,
    path: string,
    init: { method?: string; headers?: Record<string, string> } = {},
  ) =>
    b
      ? b.fetch(`${stack.url}/ext-authz${path}`, init)
      : fetch(`${stack.url}/ext-authz${path}`, init).then(async (r) => ({
          status: r.status,
          headers: Object.fromEntries(r.headers),
        }));

  it('denies anonymous requests (401)', async () => {
    expect((await check(null, '/api/v1/me')).status).toBe(401);
    expect((await check(null, `/sessions/${id}/`)).status).toBe(401);
  });

  it('allows a signed-in user, telling the upstream who they are', async () => {
    const res = await check(alice, '/api/v1/me');
    expect(res.status).toBe(200);
    expect(res.headers).toMatchObject({
      'x-floe-user': 'alice@acme.test',
      'x-floe-tenant': 'acme',
      'x-floe-tenant-id': stack.tenants.acme.id,
      'x-floe-role': 'tenant-admin',
    });
  });

  it('allows a session’s stream to its owner only (403 for the others)', async () => {
    const owner = await check(bob, `/sessions/${id}/signal`);
    expect(owner.status).toBe(200);
    const bobId = json(await call(bob, stack.url, 'GET', '/api/v1/me')).user.id;
    expect(owner.headers['x-floe-user-id']).toBe(bobId);
    // Istio routes the signalling straight to the pod: with the viewer token that opens it
    const jwks = createLocalJWKSet(
      await (await fetch(`${stack.url}/.well-known/jwks.json`)).json(),
    );
    const token = owner.headers.authorization?.replace(/^Bearer /, '') ?? '';
    const { payload } = await jwtVerify(token, jwks, {
      issuer: stack.url,
      audience: `floe-session:${id}`,
      typ: 'floe-viewer+jwt',
    });
    expect(payload).toMatchObject({ sub: bobId, role: 'owner' });
    // nothing else of the session's path carries one (it stays with the gateway)
    expect((await check(bob, `/sessions/${id}/`)).headers.authorization).toBeUndefined();
    expect((await check(bob, '/api/v1/me')).headers.authorization).toBeUndefined();
    expect((await check(alice, `/sessions/${id}/signal`)).status).toBe(403);
    expect((await check(carol, `/sessions/${id}/`)).status).toBe(403);
    const ws = await check(bob, `/sessions/${id}/signal`, {
      headers: { upgrade: 'websocket', origin: 'https://evil.test' },
    });
    expect(ws.status).toBe(403);
  });

  it('applies the CSRF check to state changes', async () => {
    const res = await check(bob, '/api/v1/tenants/acme/sessions', {
      method: 'POST',
      headers: { origin: 'https://evil.test' },
    });
    expect(res.status).toBe(403);
    const ok = await check(bob, '/api/v1/tenants/acme/sessions', {
      method: 'POST',
      headers: { origin: stack.url, 'x-csrf-token': bob.cookie(stack.url, 'floe_csrf')! },
    });
    expect(ok.status).toBe(200);
  });
});

describe('the web app', () => {
  it('serves its page at / and /console/* to signed-in users, sending others to sign in', async () => {
    for (const path of ['/', '/console', '/console/users/abc?tenant=acme']) {
      const page = await alice.fetch(stack.url + path);
      expect(page.status, path).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.headers['cache-control']).toBe('no-store');
      expect(page.body).toContain('src="/app/app.js"');
      const anonymous = await fetch(stack.url + path, { redirect: 'manual' });
      expect(anonymous.status).toBe(302);
      expect(anonymous.headers.get('location')).toBe(`/login?returnTo=${encodeURIComponent(path)}`);
    }
  });

  it('serves the bundle at /app/ to anyone, and nothing outside its folder', async () => {
    const js = await fetch(`${stack.url}/app/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(await js.text()).toContain('Floe launcher');
    expect((await fetch(`${stack.url}/app/missing.js`)).status).toBe(404);
    // (fetch resolves %2e%2e itself: that one asks for /index.html, a page, so sign in first)
    for (const path of [
      '/app/..%2f..%2fetc%2fpasswd',
      '/app/%2e%2e/index.html',
      '/app/%2e%2e%2fx',
    ]) {
      const res = await fetch(stack.url + path, { redirect: 'manual' });
      expect([302, 404], path).toContain(res.status);
    }
    expect((await alice.fetch(`${stack.url}/elsewhere`)).status).toBe(404);
  });
});

describe('the gateway’s own endpoints', () => {
  it('answers /healthz and its JWKS without a session; /metrics only on its own listener', async () => {
    const health = await fetch(`${stack.url}/healthz`);
    expect(await health.json()).toEqual({ status: 'ok' });
    // the users' port has no metrics, signed in or not: a plain 404, never a sign-in redirect
    const onUserPort = await fetch(`${stack.url}/metrics`, { redirect: 'manual' });
    expect(onUserPort.status).toBe(404);
    expect(await onUserPort.text()).not.toMatch(/floe_gateway_/);
    expect((await alice.fetch(`${stack.url}/metrics`)).status).toBe(404);
    const metricsUrl = new URL(stack.gateway.metricsUrl);
    expect(metricsUrl.pathname).toBe('/metrics');
    expect(metricsUrl.port).not.toBe(new URL(stack.url).port);
    expect((await fetch(new URL('/healthz', metricsUrl))).status).toBe(404);
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(
      /floe_gateway_requests_total\{method="GET",route="\/api\/\*",status="200"\} \d+/,
    );
    expect(metrics).toMatch(/floe_gateway_websockets_open 0/);
    // the testbed's one coturn, probed healthy by the TURN test above
    expect(metrics).toMatch(/^floe_gateway_turn_servers\{state="healthy"\} 1$/m);
    expect(metrics).toMatch(/^floe_gateway_turn_servers\{state="unhealthy"\} 0$/m);
    expect(metrics).toMatch(/floe_gateway_logins_total\{outcome="ok"\} 3/);
    const jwks = await fetch(`${stack.url}/.well-known/jwks.json`);
    expect((await jwks.json()).keys).toHaveLength(2);
  });

  it('sets security headers on every answer (no HSTS over plain http)', async () => {
    for (const path of ['/healthz', '/', '/login?tenant=acme', '/api/v1/me']) {
      const res = await fetch(stack.url + path, { redirect: 'manual' });
      expect(res.headers.get('content-security-policy'), path).toMatch(/^default-src 'self'/);
      expect(res.headers.get('content-security-policy')).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('referrer-policy')).toBe('same-origin');
      expect(res.headers.get('strict-transport-security')).toBeNull();
    }
  });
});

// last: it launches a session of bob's, which earlier tests count on not existing
describe('/api and the audit log', () => {
  it('tells the control plane’s audit log who and where the user is; a browser cannot forge it', async () => {
    const launched = await call(
      bob,
      stack.url,
      'POST',
      '/api/v1/tenants/acme/sessions',
      {
        app: 'desktop',
      },
      {
        'user-agent': 'RoutingTest/1',
        'x-floe-client-ip': '203.0.113.66',
        'x-floe-request-id': 'forged-request-id',
      },
    );
    expect(launched.status).toBe(201);
    const id = json(launched).id;
    const log = await stack.admin('GET', `/v1/audit-log?targetId=${id}`);
    const entry = log.body.items.find((e: { action: string }) => e.action === 'session.launch');
    expect(entry.actor).toMatchObject({ type: 'user', role: 'member' });
    expect(entry.request.userAgent).toBe('RoutingTest/1');
    expect(entry.request.sourceIp).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(entry.request.id).toMatch(/^[0-9a-f-]{36}$/);
    await call(bob, stack.url, 'DELETE', `/api/v1/tenants/acme/sessions/${id}`);
  });
});
