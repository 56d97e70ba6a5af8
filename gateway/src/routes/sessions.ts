// /sessions/{id}/*, for the session's owner and those it is shared with (sessions/access.ts,
// streamAccess; a share link's token in sessions/share-link.ts): the stream page and its bundle from the
// gateway's own build (sessions/stream-page.ts: never the session's, whose app may be
// hostile), the signalling WebSocket proxied to the session's endpoint, /sessions/{id}/turn,
// its ICE servers, /sessions/{id}/state, whether it ended and why (the stream page asks when
// it loses its connection), and anything else proxied to the session as passive content only
// (sessions/answer.ts). Whatever the reason for a refusal (unknown, another user's, not
// running), the answer is 404: JSON for API clients, a page with a way back for a browser's
// navigation; only its owner is told more (that it ended, and why).

import { isTerminal } from '@floe/control/session-states';
import { serveStatic } from '@hono/node-server/serve-static';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { type Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { serialize as serializeCookie } from 'hono/utils/cookie';
import { z } from 'zod';
import type { GatewaySession } from '../control-client.ts';
import type { Deps } from '../deps.ts';
import { requestOrigin } from '../host.ts';
import { fromOrigin } from '../http/csrf.ts';
import type { GatewayEnv } from '../http/env.ts';
import { jsonError, page } from '../http/respond.ts';
import { loadUser, requireCsrf, requireUser } from '../http/session-middleware.ts';
import {
  endedMessage,
  isSessionId,
  lifetimeLeft,
  ownSession,
  type StreamAccess,
  streamAccess,
} from '../sessions/access.ts';
import { endWhenRevoked } from '../sessions/grant-watch.ts';
import {
  mintShareToken,
  SHARE_COOKIE,
  SHARE_QUERY,
  shareTokenGrant,
} from '../sessions/share-link.ts';
import { SIGNAL, STREAM_ASSETS, STREAM_PAGE, streamPageDir } from '../sessions/stream-page.ts';

const LAUNCHER = { href: '/', text: 'Back to the launcher' };

export function sessionRoutes(deps: Deps) {
  const { config, control, sessions, proxy, turn, keys, log } = deps;
  const issuer = config.FLOE_GATEWAY_ISSUER;
  const app = new Hono<GatewayEnv>();

  /**
   * The stream's verdict for this user (the owner, a grant, or a share link given in the
   * query or, once opened, in its cookie), and the session itself when it is this user's.
   */
  async function lookup(
    c: Context<GatewayEnv>,
    id: string,
  ): Promise<{
    verdict: StreamAccess;
    own: GatewaySession | null;
    session: GatewaySession | null;
    /** the same verdict asked again (a live viewer's grant, checked while it watches) */
    again: () => Promise<boolean>;
  }> {
    const never = async () => false;
    if (!isSessionId(id)) {
      return { verdict: { allow: false }, own: null, session: null, again: never };
    }
    const user = c.get('user')!;
    const who = { tenantId: user.tenant_id, userId: await sessions.userId(c, user) };
    const session = await control.session(id);
    const token = c.req.query(SHARE_QUERY) ?? getCookie(c, SHARE_COOKIE);
    const link = await shareTokenGrant(keys, issuer, id, token);
    return {
      verdict: streamAccess(session, who, link),
      own: ownSession(session, who),
      session,
      again: async () => streamAccess(await control.session(id), who, link).allow,
    };
  }
  const access = async (c: Context<GatewayEnv>, id: string) => (await lookup(c, id)).verdict;

  const notFound = (c: Context<GatewayEnv>) => jsonError(c, 404, 'not_found', 'no such session');

  /** A refused stream URL: a page for a browser's navigation, JSON for everything else. */
  function refuse(c: Context<GatewayEnv>, own: GatewaySession | null) {
    const browsing =
      !c.env.upgrade && c.req.method === 'GET' && c.req.header('accept')?.includes('text/html');
    if (!browsing) return notFound(c);
    if (own && isTerminal(own.state)) {
      const message = endedMessage(own.state, own.reason);
      return page(c, 404, 'This session has ended', message, LAUNCHER);
    }
    if (own) {
      const message = `It is ${own.state}, not streaming yet; the launcher shows its progress.`;
      return page(c, 404, 'This session is not streaming', message, LAUNCHER);
    }
    const message = 'There is no such session, or it is not yours.';
    return page(c, 404, 'Session not found', message, LAUNCHER);
  }

  app.use('/sessions/*', loadUser(sessions), requireUser('page'), requireCsrf(issuer));

  // the stream page resolves `signal` (and its assets) relative to itself: it must be
  // loaded as /sessions/{id}/
  app.get('/sessions/:id', (c) => {
    if (c.env.upgrade) return notFound(c);
    const { search } = new URL(c.req.url);
    return c.redirect(`/sessions/${encodeURIComponent(c.req.param('id'))}/${search}`, 301);
  });

  // the stream page and its bundle, from the gateway's build, to the session's owner
  const streamDir = streamPageDir(config.FLOE_GATEWAY_WEB_DIR);
  /** A file of the bundle for the session's owner, or the answer why not. */
  const streamFile = (file: string, cache: string) => {
    const serve = streamDir && serveStatic<GatewayEnv>({ root: streamDir, path: file });
    return async (c: Context<GatewayEnv>) => {
      if (c.env.upgrade) return notFound(c);
      const id = c.req.param('id') ?? '';
      const { verdict, own } = await lookup(c, id);
      if (!verdict.allow) return refuse(c, own);
      const res = serve && (await serve(c, async () => {}));
      // a file the build did not write, or no build at all: nothing there (a 404, as for
      // any other path without a page; a 5xx is for failures)
      if (!res) {
        const what = streamDir ? `no file at ${c.req.path}` : 'no stream page is installed here';
        return jsonError(c, 404, 'not_found', what);
      }
      res.headers.set('cache-control', cache);
      // a share link opened: its token goes with the page's own requests from now on
      const shared = c.req.query(SHARE_QUERY);
      if (shared && verdict.role !== 'owner' && verdict.grantId) {
        const cookie = serializeCookie(SHARE_COOKIE, shared, {
          path: `/sessions/${id}/`,
          httpOnly: true,
          sameSite: 'Lax',
          secure: sessions.secure,
          maxAge: 7 * 86_400,
        });
        res.headers.append('set-cookie', cookie);
      }
      return res;
    };
  };
  // the page names no user, but it is a way into the signed-in app: never from a cache
  app.on(['GET', 'HEAD'], `/sessions/:id${STREAM_PAGE}`, streamFile('index.html', 'no-store'));
  for (const asset of STREAM_ASSETS) {
    app.on(['GET', 'HEAD'], `/sessions/:id${asset}`, streamFile(asset.slice(1), 'no-cache'));
  }

  app.get('/sessions/:id/turn', async (c) => {
    const id = c.req.param('id');
    if (c.env.upgrade || !(await access(c, id)).allow) return notFound(c);
    const offer = turn ? turn.iceServers(id) : { iceServers: [], expiresAt: null };
    return c.json(offer, 200, { 'cache-control': 'no-store' });
  });

  // A share link for one of this session's live link grants (made at the control plane:
  // POST /api/v1/tenants/{tenant}/sessions/{id}/grants), for its owner only.
  app.get('/sessions/:id/links/:grant', async (c) => {
    const id = c.req.param('id');
    if (c.env.upgrade) return notFound(c);
    const { verdict } = await lookup(c, id);
    if (!verdict.allow || verdict.role !== 'owner') return notFound(c);
    // a link is asked for right after its grant was made: not from the second-long cache
    control.forgetLocally(id);
    const session = await control.session(id);
    const grant = session?.grants?.find((g) => g.id === c.req.param('grant') && g.kind === 'link');
    if (!grant?.expiresAt) return jsonError(c, 404, 'not_found', 'no such live link grant');
    const expiresAt = new Date(grant.expiresAt);
    const token = await mintShareToken(keys, issuer, {
      sessionId: id,
      grantId: grant.id,
      expiresAt,
    });
    const origin = requestOrigin(c.req.header('host'), issuer);
    const url = `${origin}/sessions/${id}/?${SHARE_QUERY}=${token}`;
    return c.json({ url, expiresAt: grant.expiresAt }, 200, { 'cache-control': 'no-store' });
  });

  // The owner's stream page reports what it did to a viewer (handed control over, took it
  // back, removed them: the streamer does it, this records it in the session's audit trail).
  const ViewerAction = z.strictObject({
    action: z.enum(['give-control', 'take-control', 'remove']),
    viewer: z.uuid(),
  });
  app.post('/sessions/:id/viewer-actions', async (c) => {
    const id = c.req.param('id');
    if (c.env.upgrade) return notFound(c);
    const { verdict, own } = await lookup(c, id);
    if (!verdict.allow || verdict.role !== 'owner' || !own) return notFound(c);
    const parsed = ViewerAction.safeParse(await c.req.json().catch(() => null));
    if (!parsed.success) {
      return jsonError(c, 400, 'bad_request', parsed.error.issues[0]?.message ?? 'invalid');
    }
    await control.recordViewerAction(id, { ...parsed.data, by: own.userId });
    return c.body(null, 204);
  });

  // the stream page's question when its connection drops: has the session ended, and why?
  // (its owner is told why; a viewer it was shared with only that it is no longer there)
  app.get('/sessions/:id/state', async (c) => {
    if (c.env.upgrade) return notFound(c);
    const { own, verdict } = await lookup(c, c.req.param('id'));
    if (!own && verdict.allow) {
      return c.json({ state: 'running', ended: false, message: null }, 200, {
        'cache-control': 'no-store',
      });
    }
    if (!own) return notFound(c);
    const ended = isTerminal(own.state);
    const message = ended ? endedMessage(own.state, own.reason) : null;
    const lifetime = lifetimeLeft(own, Date.now());
    return c.json({ state: own.state, ended, message, lifetime }, 200, {
      'cache-control': 'no-store',
    });
  });

  app.all('/sessions/:id/*', async (c) => {
    const id = c.req.param('id');
    const upgrade = c.env.upgrade;
    if (upgrade) {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        return jsonError(c, 400, 'bad_request', 'only WebSocket upgrades are proxied');
      }
      // the signalling is the one WebSocket a session is asked for
      if (c.req.path !== `/sessions/${id}${SIGNAL}`) return notFound(c);
      // browsers always send Origin on WebSocket handshakes; another site's page must not
      // ride on the user's cookie (cross-site WebSocket hijacking)
      const origin = c.req.header('origin');
      if (!origin || !fromOrigin({ origin }, requestOrigin(c.req.header('host'), issuer))) {
        return jsonError(c, 403, 'forbidden', 'cross-origin WebSocket refused');
      }
    }
    const { verdict, own, again } = await lookup(c, id);
    if (!verdict.allow) return refuse(c, own);
    const url = new URL(c.req.url);
    const path = url.pathname.slice(`/sessions/${id}`.length) + url.search;
    if (upgrade) {
      const user = c.get('user')!;
      const { role, grantId } = verdict;
      const userId = role === 'owner' ? own!.userId : (await sessions.userId(c, user))!;
      const viewer = { sessionId: id, userId, role, name: user.email };
      proxy.ws(c.env.incoming, upgrade.socket, upgrade.head, verdict.endpoint, path, viewer);
      if (role !== 'owner') {
        endWhenRevoked(upgrade.socket, again);
        control
          .recordJoin(id, { userId, role, grantId })
          .catch((err: Error) => log.warn({ err: err.message, session: id }, 'join not recorded'));
      }
    } else {
      // with the cookies set on the way (a renewed session); c.res must not be touched here:
      // a response Hono has materialised would be written over the proxy's
      proxy.web(c.env.incoming, c.env.outgoing!, verdict.endpoint, path, c.get('setCookies') ?? []);
    }
    return RESPONSE_ALREADY_SENT;
  });

  return app;
}
