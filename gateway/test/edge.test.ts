// The session edge (FLOE_GATEWAY_EDGE=haproxy and floe-edge), with the real HAProxy, and
// Floe's own edge proxy, in front of the real gateway: it takes only what the gateway's fast path has let through, answers a hostile
// session exactly as the gateway does (each answer compared with the gateway's own for the
// same request), forwards nothing of the user's credentials, and stops taking a session as
// soon as the gateway would: a stop through the gateway, another user, another host.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '@floe/testbed';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floeEdgeProgram } from '../src/edge/floe-edge-build.ts';
import type { Browser, HttpResponse } from './helpers/browser.ts';
import { HOSTILE, startHostileSession } from './helpers/hostile-session.ts';
import { type Stack, startStack } from './helpers/stack.ts';
import { call, json, openWebSocket, signIn } from './helpers/users.ts';

// both edges, the same tests: HAProxy, and floe-edge (gateway/edge-proxy), built here first
let floeEdge = '';
beforeAll(() => {
  floeEdge = floeEdgeProgram((line) => console.log(line));
}, 900_000);
const edgeEnv = (kind: 'haproxy' | 'floe-edge'): Record<string, string> =>
  kind === 'haproxy'
    ? { FLOE_GATEWAY_EDGE: kind }
    : { FLOE_GATEWAY_EDGE: kind, FLOE_GATEWAY_EDGE_PROGRAM: floeEdge };

describe.each(['haproxy', 'floe-edge'] as const)('%s', (kind) => {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  async function launch(stack: Stack, b: Browser): Promise<string> {
    const launched = await call(b, stack.url, 'POST', '/api/v1/tenants/acme/sessions', {
      app: 'desktop',
    });
    expect(launched.status, launched.body).toBe(201);
    const id = json(launched).id as string;
    for (let i = 0; i < 200; i++) {
      const s = json(await call(b, stack.url, 'GET', `/api/v1/tenants/acme/sessions/${id}`));
      if (s.state === 'running') return id;
      await sleep(20);
    }
    throw new Error('the session is not running');
  }

  const edgeOf = (stack: Stack) => {
    const edge = stack.gateway.edge;
    if (!edge) throw new Error('the gateway has no edge');
    return edge;
  };

  /** GETs `url` until the edge (not the gateway behind it) answered it; that answer. */
  async function viaEdge(stack: Stack, b: Browser, url: string): Promise<HttpResponse> {
    const edge = edgeOf(stack);
    for (let i = 0; i < 200; i++) {
      const before = await edge.served();
      const res = await b.fetch(url);
      if ((await edge.served()) > before) return res;
      await sleep(10);
    }
    throw new Error(`the edge never took ${url}`);
  }

  /** GETs `url` through the gateway itself, the session's entries forgotten first. */
  async function viaGateway(stack: Stack, b: Browser, url: string, id: string) {
    const edge = edgeOf(stack);
    await edge.forget(id);
    const before = await edge.served();
    const res = await b.fetch(url);
    expect(await edge.served(), 'the gateway answered it').toBe(before);
    return res;
  }

  /** A GET of `path` as it is written (a URL would lose its dot segments). */
  function rawGet(base: string, path: string, cookie: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const { hostname, port } = new URL(base);
      const req = request({ hostname, port, path, headers: { cookie } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** An answer as the browser acts on it: its status, headers (but framing) and body. */
  function seen(res: HttpResponse) {
    const headers = { ...res.headers };
    for (const framing of [
      'date',
      'connection',
      'keep-alive',
      'transfer-encoding',
      'content-length',
    ])
      delete headers[framing];
    return { status: res.status, headers, body: res.body };
  }

  describe('the session edge, in front of a hostile session', () => {
    let stack: Stack;
    let hostile: Awaited<ReturnType<typeof startHostileSession>>;
    let bob: Browser;
    let id: string;

    beforeAll(async () => {
      hostile = await startHostileSession();
      stack = await startStack({ env: edgeEnv(kind), endpoint: (s) => `${hostile.url}/s/${s}/` });
      bob = await signIn(stack.url, 'bob');
      id = await launch(stack, bob);
    }, 60_000);
    afterAll(async () => {
      await stack?.close();
      await hostile?.close();
    });

    const paths = [...Object.keys(HOSTILE).filter((p) => p !== '/'), '/missing', '/sub/dir?q=1'];
    it.each(paths)('answers %s as the gateway does', async (path) => {
      const url = `${stack.url}/sessions/${id}${path}`;
      const gateway = seen(await viaGateway(stack, bob, url, id));
      const edge = seen(await viaEdge(stack, bob, url));
      expect(edge).toEqual(gateway);
      expect(edge.headers['set-cookie']).toBeUndefined();
      expect(edge.headers['content-security-policy']).toMatch(/^sandbox;/);
    });

    it('passes data on, and refuses documents and redirects out of the session', async () => {
      const data = await viaEdge(stack, bob, `${stack.url}/sessions/${id}/data.json`);
      expect(data.status).toBe(200);
      expect(JSON.parse(data.body)).toEqual({ data: 1 });
      expect(data.headers['clear-site-data']).toBeUndefined();
      expect(data.headers['x-content-type-options']).toBe('nosniff');
      for (const path of ['/evil.html', '/evil.js', '/picture.svg', '/to-api', '/to-elsewhere']) {
        const res = await viaEdge(stack, bob, `${stack.url}/sessions/${id}${path}`);
        expect(res.status, path).toBe(502);
        expect(res.body).not.toContain('pwned');
      }
      const untyped = await viaEdge(stack, bob, `${stack.url}/sessions/${id}/untyped`);
      expect(untyped.headers['content-type']).toBe('application/octet-stream');
      expect(untyped.headers['content-disposition']).toBe('attachment');
    });

    it('leaves the stream page and the gateway’s own routes to the gateway', async () => {
      const edge = edgeOf(stack);
      await viaEdge(stack, bob, `${stack.url}/sessions/${id}/data.json`); // an entry exists
      const before = await edge.served();
      const asked = hostile.requests.length;
      for (const path of ['/', '/stream.js', '/state', '/turn', '/a/../data.json']) {
        await rawGet(stack.url, `/sessions/${id}${path}`, bob.cookieHeader(stack.url));
        expect(await edge.served(), path).toBe(before);
      }
      const post = await call(bob, stack.url, 'POST', `/sessions/${id}/data.json`, {});
      expect(post.status).toBe(200); // the gateway's fast path: data passes
      expect(await edge.served()).toBe(before);
      // the page, its bundle, state and turn are the gateway's; the session saw the GET with
      // dot segments (the gateway's app resolves them) and the POST, both through the gateway
      expect(hostile.requests.slice(asked)).toEqual([`/s/${id}/data.json`, `/s/${id}/data.json`]);
    });
  });

  describe('the session edge, for the session’s owner only', () => {
    let stack: Stack;
    let bob: Browser;
    let alice: Browser;
    let id: string;

    beforeAll(async () => {
      stack = await startStack({ env: edgeEnv(kind) });
      [bob, alice] = await Promise.all([signIn(stack.url, 'bob'), signIn(stack.url, 'alice')]);
      id = await launch(stack, bob);
    }, 60_000);
    afterAll(() => stack?.close());

    it('forwards the request without the user’s credentials, under the endpoint’s path', async () => {
      const res = await viaEdge(stack, bob, `${stack.url}/sessions/${id}/files/a.txt?x=1&y=%20`);
      expect(res.status).toBe(200);
      const got = JSON.parse(res.body) as { path: string; headers: Record<string, string> };
      expect(got.path).toBe(`/s/${id}/files/a.txt?x=1&y=%20`);
      for (const secret of ['cookie', 'authorization', 'x-csrf-token', 'x-floe-edge-client']) {
        expect(got.headers[secret], secret).toBeUndefined();
      }
      expect(got.headers['x-forwarded-for']).toBe('127.0.0.1');
      expect(got.headers['x-forwarded-port']).toBe(new URL(stack.url).port);
      expect(got.headers['x-forwarded-proto']).toBe('http');
      expect(got.headers.host).toBe(new URL(stack.echo.url).host);
      expect(res.headers['x-stand-in']).toBe('echo');
    });

    it('never takes another user’s request, nor a made-up cookie', async () => {
      const edge = edgeOf(stack);
      await viaEdge(stack, bob, `${stack.url}/sessions/${id}/x`);
      const before = await edge.served();
      const other = await alice.fetch(`${stack.url}/sessions/${id}/x`);
      expect(other.status).toBe(404);
      const forged = await fetch(`${stack.url}/sessions/${id}/x`, {
        headers: { cookie: 'floe_session=made-up' },
      });
      expect(forged.status).toBeGreaterThanOrEqual(400);
      expect(forged.status).toBeLessThan(500);
      const none = await fetch(`${stack.url}/sessions/${id}/x`);
      expect(none.status).toBeGreaterThanOrEqual(400);
      expect(none.status).toBeLessThan(500);
      expect(await edge.served()).toBe(before);
    });

    it('gives the browser’s address to the control plane through the gateway', async () => {
      const me = await call(bob, stack.url, 'GET', '/api/v1/me');
      expect(me.status).toBe(200);
      // the audit log records who called, from where (control/src/http/audit.ts)
      const launched = await call(bob, stack.url, 'POST', '/api/v1/tenants/acme/sessions', {
        app: 'desktop',
      });
      expect(launched.status).toBe(201);
      const audit = await stack.admin('GET', '/v1/tenants/acme/audit-log?limit=5');
      expect(JSON.stringify(audit.body)).toContain('127.0.0.1');
      await call(bob, stack.url, 'DELETE', `/api/v1/tenants/acme/sessions/${json(launched).id}`);
    });

    it('carries the signalling WebSocket through to the gateway', async () => {
      const ws = await openWebSocket(`${stack.url.replace('http', 'ws')}/sessions/${id}/signal`, {
        cookie: bob.cookieHeader(stack.url),
        origin: stack.url,
      });
      const first = JSON.parse(await ws.next()) as { headers: Record<string, string> };
      expect(first.headers.authorization).toMatch(/^Bearer /); // the viewer token
      ws.ws.send('hello');
      expect(await ws.next()).toBe('hello');
      // ten times floe-edge's copy buffer (2 KiB each way), in both directions; the stand-in
      // session reads frames under 64 KiB
      const large = 'x'.repeat(20_000);
      ws.ws.send(large);
      expect(await ws.next()).toBe(large);
      await ws.close();
    });

    it('counts what it answered without the gateway on the gateway’s /metrics', async () => {
      await viaEdge(stack, bob, `${stack.url}/sessions/${id}/x`);
      const text = await (await fetch(stack.gateway.metricsUrl)).text();
      const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1]);
      expect(value('floe_gateway_edge_responses_total\\{code="2xx"\\}')).toBeGreaterThan(0);
      expect(value('floe_gateway_edge_forwarded_total')).toBeGreaterThan(0);
      expect(value('floe_gateway_edge_entries')).toBeGreaterThan(0);
    });

    it('stops taking a session stopped elsewhere within the gateway’s second of cache', async () => {
      const edge = edgeOf(stack);
      const other = await launch(stack, bob);
      await viaEdge(stack, bob, `${stack.url}/sessions/${other}/x`);
      // stopped at the control plane, not through this gateway: it cannot forget at once
      const stop = await stack.admin('DELETE', `/v1/tenants/acme/sessions/${other}`);
      expect([200, 202]).toContain(stop.status);
      await sleep(1_500);
      const before = await edge.served();
      expect((await bob.fetch(`${stack.url}/sessions/${other}/x`)).status).toBe(404);
      expect(await edge.served()).toBe(before);
    });

    it('stops taking a session the moment it is stopped through the gateway', async () => {
      const edge = edgeOf(stack);
      await viaEdge(stack, bob, `${stack.url}/sessions/${id}/x`);
      expect(edge.size).toBeGreaterThan(0);
      const stop = await call(bob, stack.url, 'DELETE', `/api/v1/tenants/acme/sessions/${id}`);
      expect([200, 202]).toContain(stop.status);
      const before = await edge.served();
      const after = await bob.fetch(`${stack.url}/sessions/${id}/x`);
      expect(after.status).toBe(404);
      expect(await edge.served()).toBe(before);
    });
  });

  describe('the session edge, and a cookie due for renewal', () => {
    let stack: Stack;
    let bob: Browser;
    let id: string;

    beforeAll(async () => {
      // renewed past half of its life: 2 s
      stack = await startStack({
        env: { ...edgeEnv(kind), FLOE_GATEWAY_SESSION_TTL_SECONDS: '4' },
      });
      bob = await signIn(stack.url, 'bob');
      id = await launch(stack, bob);
    }, 60_000);
    afterAll(() => stack?.close());

    it('leaves it to the gateway, which renews it, and then takes the new one', async () => {
      const edge = edgeOf(stack);
      const url = `${stack.url}/sessions/${id}/x`;
      await viaEdge(stack, bob, url);
      const before = bob.cookie(stack.url, 'floe_session')!;
      const { iat } = decodeJwt(before);
      // past the renewal time, the next sweep of the edge's entries (every 0.25 s) ends it:
      // from then on the gateway answers, and renews the cookie
      await sleep((iat! + 2) * 1000 - Date.now());
      let due: HttpResponse | undefined;
      for (let i = 0; i < 60 && !due; i++) {
        const served = await edge.served();
        const res = await bob.fetch(url);
        if ((await edge.served()) === served) due = res;
        else await sleep(50);
      }
      expect(due?.status, 'the gateway answered within 3 s').toBe(200);
      const renewed = bob.cookie(stack.url, 'floe_session')!;
      expect(renewed).not.toBe(before);
      expect(decodeJwt(renewed).iat).toBeGreaterThan(iat!);
      // the renewed cookie goes the fast way again
      expect((await viaEdge(stack, bob, url)).status).toBe(200);
    });
  });
});

describe('the session edge, when the gateway is killed', () => {
  it('ends HAProxy with it: the users’ port is not held with nothing behind it', async () => {
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, 'helpers', 'edge-alone.ts'), String(port)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const [, , pid] = ((await once(child.stdout, 'data')) as [Buffer])[0]
      .toString()
      .trim()
      .split(' ');
    expect(await connects(port)).toBe(true);
    child.kill('SIGKILL');
    await once(child, 'exit');
    await expect.poll(() => connects(port), { timeout: 5_000 }).toBe(false);
    // and the process itself, not only its listener
    await expect.poll(() => alive(Number(pid)), { timeout: 5_000 }).toBe(false);
  });
});

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Whether `pid` is a running process (a zombie left to be reaped is not). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
