// The fast path's decisions (sessions/fast-path.ts): which URLs it may take, and that it
// serves only a settled owner of a running session, handing everything else to the Hono
// app. The caches and the proxy are stand-ins here (the real gateway runs it in
// routing.test.ts, fuzz-http.test.ts and stream.test.ts); the forwarding's header rules are
// tables below.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { SessionClaims } from '../../src/auth/session-token.ts';
import type { GatewaySession } from '../../src/control-client.ts';
import type { Deps } from '../../src/deps.ts';
import { sessionRoutes } from '../../src/routes/sessions.ts';
import { FastPath, type FastPathDeps, fastTarget } from '../../src/sessions/fast-path.ts';
import { forwardedHeaders } from '../../src/sessions/forward.ts';
import { answerHead } from '../../src/sessions/ws-forward.ts';

const ID = '01a2a3a4-0000-7000-8000-000000000000';
const ISSUER = 'http://127.0.0.1:8081';

describe('fastTarget', () => {
  it.each([
    [`/sessions/${ID}/data.json?v=2`, { id: ID, path: '/data.json', query: '?v=2' }],
    [`/sessions/${ID}/a/b.c?x=%20&y`, { id: ID, path: '/a/b.c', query: '?x=%20&y' }],
    [`/sessions/${ID.toUpperCase()}/signal`, { id: ID.toUpperCase(), path: '/signal', query: '' }],
  ])('takes %s', (url, want) => expect(fastTarget(url)).toEqual(want));

  it.each([
    `/sessions/${ID}`, // the redirect to the trailing slash
    `/sessions/${ID}?x=1`,
    `/sessions/${ID}/turn`, // the app's own routes
    `/sessions/${ID}/state`,
    `/sessions/${ID}/`, // the stream page and its bundle: the gateway's, never the session's
    `/sessions/${ID}/?relay=1`,
    `/sessions/${ID}/stream.js`,
    `/sessions/${ID}/stream.css?v=2`,
    `/sessions/${ID}/stream.js.map`,
    `/sessions/${ID}/../${ID}/`, // dot segments: the URL parser's to resolve
    `/sessions/${ID}/a/..`,
    `/sessions/${ID}/./x`,
    `/sessions/${ID}/%2e%2e/x`, // percent-encoding in the path
    `/sessions/${ID}/a%2fb`,
    `/sessions/${ID}/a\\b`,
    `/sessions/${ID}/x#frag`,
    `/sessions/${ID}/x?`, // an empty query (the app forwards none)
    `/sessions/${ID}/x?a=<b>`,
    '/sessions/not-a-uuid/',
    `/sessions/${ID}x/`,
    `/api/sessions/${ID}/`,
    `//sessions/${ID}/`,
    `http://evil.test/sessions/${ID}/`,
  ])('leaves %s to the app', (url) => expect(fastTarget(url)).toBeNull());
});

describe('the app’s own routes under /sessions/{id}/', () => {
  // a route added to the app there (the stream page from the gateway's bundle, say) must be
  // left to the app by the fast path too, or the fast path would proxy it to the session
  it('are all left to the app', () => {
    const app = sessionRoutes({ config: { FLOE_GATEWAY_ISSUER: ISSUER } } as unknown as Deps);
    const own = app.routes
      .map((r) => r.path)
      .filter((p) => p.startsWith('/sessions/:id/') && p !== '/sessions/:id/*');
    expect(own.length).toBeGreaterThan(0);
    for (const path of own) expect(fastTarget(path.replace(':id', ID)), path).toBeNull();
  });
});

describe('forwarded headers', () => {
  const request = (rawHeaders: string[], remoteAddress = '10.1.2.3') => {
    const req = new IncomingMessage(new Socket());
    Object.defineProperty(req.socket, 'remoteAddress', { value: remoteAddress });
    req.rawHeaders = rawHeaders;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      req.headers[(rawHeaders[i] as string).toLowerCase()] = rawHeaders[i + 1];
    }
    return req;
  };
  const asObject = (flat: string[]) => {
    const out: Record<string, string> = {};
    for (let i = 0; i < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
    return out;
  };

  it('drops the gateway’s credentials and hop-by-hop headers, and adds X-Forwarded-*', () => {
    const sent = asObject(
      forwardedHeaders(
        request([
          'Host',
          'gw.example:8443',
          'Cookie',
          'floe_session=secret',
          'Authorization',
          'Bearer x',
          'Proxy-Authorization',
          'Basic y',
          'X-CSRF-Token',
          'z',
          'Connection',
          'keep-alive',
          'Keep-Alive',
          'timeout=5',
          'Transfer-Encoding',
          'chunked',
          'Upgrade',
          'h2c',
          'Expect',
          '100-continue',
          'Accept',
          'text/html',
          'X-Forwarded-For',
          '192.0.2.1',
        ]),
      ),
    );
    expect(sent).toEqual({
      Accept: 'text/html',
      'x-forwarded-for': '192.0.2.1,10.1.2.3',
      'x-forwarded-port': '8443',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'gw.example:8443',
    });
  });

  it('drops Set-Cookie from a WebSocket handshake’s answer', () => {
    const head = answerHead(
      'HTTP/1.1 101 Switching Protocols',
      ['Upgrade', 'websocket', 'Set-Cookie', 'floe_session=evil', 'Connection', 'Upgrade'],
      (name) => name !== 'set-cookie',
    );
    expect(head).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
  });
});

describe('FastPath', () => {
  const now = Math.floor(Date.now() / 1000);
  const bob: SessionClaims = {
    sub: 'bob',
    tenant_id: 'acme',
    tenant: 'acme',
    email: 'bob@acme.test',
    name: 'Bob',
    role: 'member',
    uid: 'u-bob',
    csrf: 'c'.repeat(24),
    signed_in_at: now,
    iat: now,
    exp: now + 900,
  };
  const running: GatewaySession = {
    id: ID,
    tenantId: 'acme',
    userId: 'u-bob',
    state: 'running',
    endpoint: 'http://10.0.0.5:8080/s/x',
    lifetime: null,
    reason: null,
    grants: [],
  };

  /** A fast path over the given caches; what it did, by the proxy's and fallback's calls. */
  function setup(opts: {
    claims?: SessionClaims;
    settled?: boolean;
    session?: GatewaySession | null;
    cached?: boolean;
    hostTenant?: { tenant: { id: string } } | null;
  }) {
    const calls: string[] = [];
    const deps: FastPathDeps = {
      issuer: ISSUER,
      sessions: {
        cookieName: 'floe_session',
        cachedClaims: (token) => (token === 'good' ? (opts.claims ?? bob) : undefined),
        settled: () => opts.settled ?? true,
      },
      control: {
        cachedSession: () => (opts.cached !== false ? (opts.session ?? undefined) : undefined),
        session: async () => opts.session ?? null,
        cachedTenantByHost: () => opts.hostTenant,
      },
      proxy: {
        web: (_req, _res, target, path) => calls.push(`web ${target} ${path}`),
        ws: (_req, _socket, _head, target, path) => calls.push(`ws ${target} ${path}`),
      },
      record: () => {},
    };
    return { fast: new FastPath(deps), calls };
  }

  const request = (method: string, url: string, headers: Record<string, string>) => {
    const req = new IncomingMessage(new Socket());
    req.method = method;
    req.url = url;
    Object.assign(req.headers, { host: '127.0.0.1:8081', ...headers });
    return req;
  };
  const cookie = `floe_session=good; floe_csrf=${bob.csrf}`;

  async function web(
    s: ReturnType<typeof setup>,
    method: string,
    url: string,
    headers: Record<string, string>,
  ) {
    const req = request(method, url, headers);
    s.fast.web(req, new ServerResponse(req), () => s.calls.push('app'));
    await new Promise((r) => setImmediate(r));
    return s.calls;
  }

  async function upgrade(
    s: ReturnType<typeof setup>,
    url: string,
    headers: Record<string, string>,
  ) {
    const req = request('GET', url, headers);
    s.fast.upgrade(req, new Socket(), Buffer.alloc(0), () => s.calls.push('app'));
    await new Promise((r) => setImmediate(r));
    return s.calls;
  }

  it('proxies the owner’s request to a running session, from the caches or once asked', async () => {
    expect(
      await web(setup({ session: running }), 'GET', `/sessions/${ID}/a?b=1`, { cookie }),
    ).toEqual(['web http://10.0.0.5:8080/s/x /a?b=1']);
    const uncached = setup({ session: running, cached: false });
    expect(await web(uncached, 'GET', `/sessions/${ID}/a`, { cookie })).toEqual([
      'web http://10.0.0.5:8080/s/x /a',
    ]);
  });

  it.each([
    ['no cookie', {}, {}],
    ['a cookie never verified', {}, { cookie: 'floe_session=unknown' }],
    ['a cookie to renew or a CSRF cookie to set', { settled: false }, { cookie }],
    ['another user’s session', { session: { ...running, userId: 'u-alice' } }, { cookie }],
    ['another tenant’s session', { session: { ...running, tenantId: 'other' } }, { cookie }],
    ['a stopped session', { session: { ...running, state: 'stopped' } }, { cookie }],
    ['an unknown session', { session: null, cached: false }, { cookie }],
    [
      'a host of another tenant',
      { session: running, hostTenant: { tenant: { id: 'other' } } },
      { cookie, host: 'other.example.com' },
    ],
    [
      'a tenant host not looked up yet',
      { session: running, hostTenant: undefined },
      { cookie, host: 'acme.example.com' },
    ],
  ] as const)('leaves %s to the app', async (_what, opts, headers) => {
    expect(
      await web(setup({ session: running, ...opts }), 'GET', `/sessions/${ID}/x`, headers),
    ).toEqual(['app']);
  });

  it('reads each request’s own cookie on a connection that sent another before', async () => {
    // the jar of a connection's last Cookie header is remembered: a different header on the
    // same connection must be read afresh, never answered from it
    const s = setup({ session: running });
    const socket = new Socket();
    const send = async (headers: Record<string, string>) => {
      const req = request('GET', `/sessions/${ID}/x`, headers);
      Object.defineProperty(req, 'socket', { value: socket });
      s.fast.web(req, new ServerResponse(req), () => s.calls.push('app'));
      await new Promise((r) => setImmediate(r));
    };
    await send({ cookie });
    await send({ cookie: 'floe_session=unknown' });
    await send({});
    await send({ cookie });
    await send({ cookie: `floe_session=good; floe_csrf=${'d'.repeat(24)}` });
    expect(s.calls).toEqual([
      'web http://10.0.0.5:8080/s/x /x',
      'app',
      'app',
      'web http://10.0.0.5:8080/s/x /x',
      'web http://10.0.0.5:8080/s/x /x',
    ]);
  });

  it('takes a tenant host that is its user’s tenant', async () => {
    const s = setup({ session: running, hostTenant: { tenant: { id: 'acme' } } });
    expect(
      await web(s, 'GET', `/sessions/${ID}/x`, { cookie, host: 'acme.example.com' }),
    ).toHaveLength(1);
    expect(s.calls[0]).toMatch(/^web /);
  });

  it('proxies a state-changing request only with the CSRF checks passed', async () => {
    const good = { cookie, origin: ISSUER, 'x-csrf-token': bob.csrf };
    expect(await web(setup({ session: running }), 'POST', `/sessions/${ID}/clip`, good)).toEqual([
      'web http://10.0.0.5:8080/s/x /clip',
    ]);
    for (const bad of [
      { ...good, origin: 'https://evil.test' },
      { cookie, origin: ISSUER },
      { ...good, 'x-csrf-token': 'd'.repeat(24) },
    ]) {
      expect(await web(setup({ session: running }), 'POST', `/sessions/${ID}/clip`, bad)).toEqual([
        'app',
      ]);
    }
  });

  it('proxies no WebSocket but the signalling', async () => {
    const good = { cookie: 'floe_session=good', origin: ISSUER, upgrade: 'websocket' };
    for (const path of ['/', '/x', '/signal/x', '/a/signal', '/stream.js']) {
      expect(await upgrade(setup({ session: running }), `/sessions/${ID}${path}`, good)).toEqual([
        'app',
      ]);
    }
  });

  it('proxies the owner’s WebSocket upgrade from this origin only', async () => {
    const good = { cookie: 'floe_session=good', origin: ISSUER, upgrade: 'websocket' };
    expect(await upgrade(setup({ session: running }), `/sessions/${ID}/signal`, good)).toEqual([
      'ws http://10.0.0.5:8080/s/x /signal',
    ]);
    for (const bad of [
      { ...good, origin: 'https://evil.test' },
      { cookie: good.cookie, upgrade: 'websocket' },
      { ...good, upgrade: 'h2c' },
      { ...good, cookie: 'floe_session=unknown' },
    ]) {
      expect(await upgrade(setup({ session: running }), `/sessions/${ID}/signal`, bad)).toEqual([
        'app',
      ]);
    }
    const alices = setup({ session: { ...running, userId: 'u-alice' } });
    expect(await upgrade(alices, `/sessions/${ID}/signal`, good)).toEqual(['app']);
  });
});
