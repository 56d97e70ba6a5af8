// /api/* → the control plane's /v1/*, as the signed-in user: the request goes on with an
// identity token the gateway signs (never the browser's cookie), and the answer streams
// back as it comes (launch progress is a text/event-stream).
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { StatusCode } from 'hono/utils/http-status';
import type { Deps } from '../deps.ts';
import { clientAddress, EDGE_CLIENT_HEADER } from '../http/client-address.ts';
import type { GatewayEnv } from '../http/env.ts';
import { jsonError } from '../http/respond.ts';
import { loadUser, requireCsrf, requireUser } from '../http/session-middleware.ts';

// Hop-by-hop headers (RFC 9110 §7.6.1) and what only the gateway may say to the control
// plane: who the user is (authorization), their cookies, and the CSRF token.
const REQUEST_HEADERS_DROPPED = new Set([
  'authorization',
  'connection',
  'content-length',
  'cookie',
  'forwarded',
  'host',
  'keep-alive',
  'origin',
  'proxy-authorization',
  'proxy-connection',
  'referer',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'x-csrf-token',
  // what the gateway alone tells the control plane of the client (for its audit log); a
  // browser's own are dropped, and the control plane believes them beside an identity
  // token only (control/src/http/audit.ts)
  'x-floe-client-ip',
  'x-floe-request-id',
  'x-floe-user-agent',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  EDGE_CLIENT_HEADER,
]);

/** A session (its stop) or its grants (a share, a revoke): what the gateway caches of it. */
const SESSION_CHANGE = /^\/v1\/tenants\/[^/]+\/sessions\/([^/]+)(?:\/grants(?:\/[^/]+)?)?$/;

// The control plane sets no cookies on the gateway's domain; hop-by-hop headers stop here.
const RESPONSE_HEADERS_DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * The upstream body, ending without an error when the browser went away: the fetch is
 * aborted with the request then, and its body's "aborted" error is nobody's fault (it would
 * be reported as a failed response). Other upstream errors still fail the response.
 */
function endsQuietly(body: ReadableStream<Uint8Array>, signal: AbortSignal) {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        if (signal.aborted) controller.close();
        else controller.error(err);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

export function apiRoutes(deps: Deps) {
  const { config, control, sessions, metrics, log } = deps;
  const app = new Hono<GatewayEnv>();
  const maxSize = config.FLOE_GATEWAY_BODY_LIMIT_BYTES;

  app.use(
    '/api/*',
    loadUser(sessions),
    requireUser('api'),
    requireCsrf(config.FLOE_GATEWAY_ISSUER),
  );
  app.use(
    '/api/*',
    bodyLimit({
      maxSize,
      onError: (c) =>
        jsonError(c, 413, 'payload_too_large', `request bodies are limited to ${maxSize} bytes`),
    }),
  );

  app.all('/api/*', async (c) => {
    const url = new URL(c.req.url);
    const path = url.pathname.slice('/api'.length);
    // the user's API only: the control plane's /metrics, /docs and the gateways' own
    // routes are not for browsers
    if (!path.startsWith('/v1/') || path.startsWith('/v1/gateway/')) {
      return jsonError(c, 404, 'not_found', `no route for ${c.req.method} ${url.pathname}`);
    }
    const user = c.get('user')!;
    const headers = new Headers();
    for (const [name, value] of c.req.raw.headers) {
      if (!REQUEST_HEADERS_DROPPED.has(name) && !name.startsWith('sec-')) headers.set(name, value);
    }
    headers.set('authorization', `Bearer ${await sessions.identityToken(user)}`);
    // fetch would decompress a compressed answer and leave its content-encoding header
    headers.set('accept-encoding', 'identity');
    const incoming = c.env.incoming;
    const client = incoming && clientAddress(incoming);
    if (client) {
      headers.set('x-forwarded-for', client);
      headers.set('x-floe-client-ip', client);
    }
    const userAgent = c.req.header('user-agent');
    if (userAgent) headers.set('x-floe-user-agent', userAgent);
    headers.set('x-floe-request-id', randomUUID());
    headers.set('x-forwarded-proto', new URL(config.FLOE_GATEWAY_ISSUER).protocol.slice(0, -1));
    const host = c.req.header('host');
    if (host) headers.set('x-forwarded-host', host);
    const method = c.req.method;
    const hasBody = method !== 'GET' && method !== 'HEAD';
    let upstream: Response;
    try {
      upstream = await fetch(`${control.url}${path}${url.search}`, {
        method,
        headers,
        body: hasBody ? c.req.raw.body : undefined,
        // @ts-expect-error: Node's fetch streams request bodies with duplex 'half'
        duplex: 'half',
        redirect: 'manual',
        signal: c.req.raw.signal,
      });
    } catch (err) {
      if (c.req.raw.signal.aborted) return c.body(null, 499 as never);
      metrics.upstreamErrors.inc({ upstream: 'control' });
      log.warn({ err, path }, 'control plane request failed');
      return jsonError(c, 502, 'bad_gateway', 'the control plane did not answer; try again');
    }
    // A stop through this gateway ends its proxying at once, and a share or a revoke takes
    // effect at once, not when the cached session expires.
    const changed = method !== 'GET' && method !== 'HEAD' && path.match(SESSION_CHANGE);
    if (changed && upstream.ok) await control.forgetSession(decodeURIComponent(changed[1]!));
    const out = new Headers();
    for (const [name, value] of upstream.headers) {
      if (!RESPONSE_HEADERS_DROPPED.has(name)) out.append(name, value);
    }
    if (out.get('content-type')?.startsWith('text/event-stream')) {
      // no buffering on the way (proxies in front of the gateway honour this)
      out.set('x-accel-buffering', 'no');
      out.set('cache-control', 'no-cache');
    }
    // through c.newResponse, so that a renewed session cookie set on the way is kept
    const body = upstream.body && endsQuietly(upstream.body, c.req.raw.signal);
    return c.newResponse(body, { status: upstream.status as StatusCode, headers: out });
  });

  return app;
}
