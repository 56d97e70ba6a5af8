// The gateway's own endpoints (health, its public keys) and the web app: the
// launcher from FLOE_GATEWAY_WEB_DIR for signed-in users, everything else sent to sign in.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type MiddlewareHandler } from 'hono';
import type { Deps } from '../deps.ts';
import type { GatewayEnv } from '../http/env.ts';
import { escapeHtml, jsonError } from '../http/respond.ts';
import { loadUser, requireUser } from '../http/session-middleware.ts';

/**
 * The built web app (index.html, app.js, app.css: web/dist/app), given as that folder or
 * as the dist folder above it; null when there is none.
 */
export function webAppDir(dir: string | undefined): string | null {
  if (!dir) return null;
  for (const candidate of [resolve(dir, 'app'), resolve(dir)]) {
    if (existsSync(join(candidate, 'index.html'))) return candidate;
  }
  return null;
}

// the page names no user, but it is the way into the signed-in app: never from a cache
const noStore: MiddlewareHandler = async (c, next) => {
  await next();
  c.header('cache-control', 'no-store');
};

export function webRoutes(deps: Deps) {
  const { config, keys, sessions } = deps;
  const app = new Hono<GatewayEnv>();

  app.get('/healthz', (c) => c.json({ status: 'ok' }, 200, { 'cache-control': 'no-store' }));
  // metrics have a listener of their own (FLOE_GATEWAY_METRICS_PORT); here a plain 404, not a
  // sign-in page, tells an old scrape configuration where it went wrong
  app.all('/metrics', (c) =>
    jsonError(c, 404, 'not_found', 'metrics are served on FLOE_GATEWAY_METRICS_PORT'),
  );
  // the control plane verifies identity tokens with these; clients may cache them briefly
  app.get('/.well-known/jwks.json', (c) =>
    c.json(keys.jwks, 200, { 'cache-control': 'public, max-age=300' }),
  );

  const appDir = webAppDir(config.FLOE_GATEWAY_WEB_DIR);
  const signedIn = [loadUser(sessions), requireUser('page')] as const;
  if (appDir) {
    // the bundle (app.js, app.css) is code, the same for everyone: no sign-in needed
    app.on(
      ['GET', 'HEAD'],
      '/app/*',
      serveStatic({ root: appDir, rewriteRequestPath: (p) => p.slice('/app'.length) }),
      (c) => jsonError(c, 404, 'not_found', `no file at ${c.req.path}`),
    );
    // the single-page app's own paths: its index.html, which routes in the browser
    const page = serveStatic({ root: appDir, path: 'index.html' });
    app.on(['GET', 'HEAD'], '/', ...signedIn, noStore, page);
    app.on(['GET', 'HEAD'], '/console', ...signedIn, noStore, page);
    app.on(['GET', 'HEAD'], '/console/*', ...signedIn, noStore, page);
  } else {
    // until the launcher is installed: who is signed in, and a way out
    app.on(['GET', 'HEAD'], '/', ...signedIn, (c) => {
      const user = c.get('user')!;
      return c.html(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Floe</title></head>` +
          `<body><main><h1>Floe</h1><p>Signed in as ${escapeHtml(user.name)} ` +
          `(${escapeHtml(user.email)}, ${escapeHtml(user.role)} of ${escapeHtml(user.tenant)}).</p>` +
          '<p><a href="/logout">Sign out</a></p>' +
          '</main></body></html>',
        200,
        { 'cache-control': 'no-store' },
      );
    });
  }
  // any other page: sign in first; then it is simply not there
  app.on(['GET', 'HEAD'], '/*', ...signedIn, (c) =>
    jsonError(c, 404, 'not_found', `no page at ${c.req.path}`),
  );
  return app;
}
