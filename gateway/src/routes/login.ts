// Signing in and out: /login sends the browser to the tenant's OpenID Provider (code flow
// with PKCE S256, state and nonce), /callback checks what comes back and sets the session
// cookie, /logout ends it here and at the provider.
import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as oidc from 'openid-client';
import { bindingRefusal } from '../auth/binding.ts';
import {
  LOGIN_COOKIE,
  LOGIN_TTL_SECONDS,
  openLoginState,
  sealLoginState,
} from '../auth/login-state.ts';
import { classifyOidcError } from '../auth/oidc.ts';
import { safeReturnTo } from '../auth/return-to.ts';
import { roleFromClaims } from '../auth/roles.ts';
import { seal, unseal } from '../auth/sealed.ts';
import { ControlPlaneUnavailable, type GatewayTenant, IdentityRefused } from '../control-client.ts';
import type { Deps } from '../deps.ts';
import { requestOrigin, tenantHostname } from '../host.ts';
import { fromOrigin } from '../http/csrf.ts';
import type { GatewayEnv } from '../http/env.ts';
import { escapeHtml, page } from '../http/respond.ts';
import { FORM_ACTION_TO_IDENTITY_PROVIDERS } from '../http/security-headers.ts';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62})$/;

/** The organisation this browser last signed in to on the shared host: a hint, not a credential. */
const TENANT_COOKIE = 'floe_tenant';

/** Asks which organisation to sign in to (the shared host with nothing to go by). */
function chooseTenant(c: Context<GatewayEnv>, returnTo: string) {
  // the form's answer redirects to the organisation's identity provider
  c.set('formAction', FORM_ACTION_TO_IDENTITY_PROVIDERS);
  return c.html(
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title>' +
      '<meta name="viewport" content="width=device-width, initial-scale=1"></head><body><main>' +
      '<h1>Sign in</h1><form method="get" action="/login">' +
      '<label>Organisation <input name="tenant" required autofocus autocomplete="organization"></label>' +
      `<input type="hidden" name="returnTo" value="${escapeHtml(returnTo)}">` +
      '<button type="submit">Continue</button></form></main></body></html>',
    400,
    { 'cache-control': 'no-store' },
  );
}

export function loginRoutes(deps: Deps) {
  const { config, keys, control, idps, sessions, metrics, log } = deps;
  const issuer = config.FLOE_GATEWAY_ISSUER;
  const app = new Hono<GatewayEnv>();
  const loginCookie = { path: '/callback', secure: sessions.secure };

  /**
   * The tenant a Host header names, if any. Which tenant signs in is decided without
   * ambiguity: a tenant's own host name (looked up as a host name only) decides; on the
   * shared host, the `?tenant=` hint or the remembered organisation (looked up as a slug or
   * id only). One tenant's host names can never select another tenant's sign-in.
   */
  async function hostTenant(host: string | undefined): Promise<GatewayTenant | null> {
    const hostname = tenantHostname(host, issuer);
    return hostname ? control.tenantByHost(hostname) : null;
  }

  app.get('/login', async (c) => {
    const returnTo = safeReturnTo(c.req.query('returnTo'));
    const host = c.req.header('host');
    const byHost = await hostTenant(host);
    // A tenant's own host name decides. On the shared host: the hint, else the organisation
    // this browser signed in to last.
    const asked = c.req.query('tenant')?.trim().toLowerCase() || undefined;
    const hint = asked ?? getCookie(c, TENANT_COOKIE);
    if (!byHost && !hint) return chooseTenant(c, returnTo);
    if (!byHost && hint && !SLUG.test(hint)) {
      return page(c, 400, 'Sign in', 'That is not an organisation name.');
    }
    const tenant = byHost ?? (await control.tenant(hint as string));
    if (!tenant) {
      // a remembered organisation that is gone: ask again
      if (!asked) return chooseTenant(c, returnTo);
      return page(c, 404, 'Sign in', `There is no organisation "${hint}".`);
    }
    const idp = tenant.identityProvider;
    if (!idp) {
      return page(c, 403, 'Sign in', `${tenant.tenant.name} has no identity provider set up yet.`);
    }
    let configuration: oidc.Configuration;
    try {
      configuration = await idps.configuration(idp);
    } catch (err) {
      metrics.upstreamErrors.inc({ upstream: 'idp' });
      log.warn(
        { err, tenant: tenant.tenant.slug, issuer: idp.issuer },
        'identity provider unusable',
      );
      return page(c, 502, 'Sign in', `${tenant.tenant.name}'s identity provider does not answer.`);
    }
    // the callback must come back to the host the browser uses, where the login cookie is
    const origin = byHost ? requestOrigin(host, issuer) : issuer;
    const redirectUri = `${origin}/callback`;
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    setCookie(
      c,
      LOGIN_COOKIE,
      await sealLoginState(keys, {
        state,
        nonce,
        verifier,
        returnTo,
        tenant: tenant.tenant.slug,
        tenantId: tenant.tenant.id,
        redirectUri,
      }),
      { ...loginCookie, httpOnly: true, sameSite: 'Lax', maxAge: LOGIN_TTL_SECONDS },
    );
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: config.FLOE_OIDC_SCOPES,
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    c.header('cache-control', 'no-store');
    return c.redirect(url.href, 302);
  });

  app.get('/callback', async (c) => {
    const login = await openLoginState(keys, getCookie(c, LOGIN_COOKIE));
    deleteCookie(c, LOGIN_COOKIE, loginCookie);
    const again = { href: '/login', text: 'Sign in again' };
    if (!login) {
      metrics.logins.inc({ outcome: 'no_state' });
      return page(
        c,
        400,
        'Sign-in expired',
        'This sign-in expired or began in another browser.',
        again,
      );
    }
    again.href = `/login?tenant=${encodeURIComponent(login.tenant)}&returnTo=${encodeURIComponent(login.returnTo)}`;
    const error = c.req.query('error');
    if (error) {
      metrics.logins.inc({ outcome: 'idp_error' });
      const description = c.req.query('error_description') ?? error;
      return page(c, 403, 'Sign-in refused', `The identity provider said: ${description}`, again);
    }
    // the tenant the sign-in began for, by id: no other tenant's provider redeems the code
    const tenant = await control.tenantById(login.tenantId);
    const idp = tenant?.identityProvider;
    if (!tenant || !idp) {
      return page(c, 400, 'Sign-in failed', 'The organisation can no longer sign in.', again);
    }
    // the URL the provider redirected to, as it knows it (behind a proxy, not c.req.url)
    const current = new URL(login.redirectUri);
    current.search = new URL(c.req.url).search;
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(await idps.configuration(idp), current, {
        pkceCodeVerifier: login.verifier,
        expectedState: login.state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      const kind = classifyOidcError(err);
      metrics.logins.inc({ outcome: kind });
      log.info({ err, tenant: login.tenant, kind }, 'sign-in callback refused');
      if (kind === 'unavailable') {
        metrics.upstreamErrors.inc({ upstream: 'idp' });
        return page(c, 502, 'Sign-in failed', 'The identity provider does not answer.', again);
      }
      return page(c, 400, 'Sign-in failed', 'This sign-in response is not valid here.', again);
    }
    const claims = tokens.claims();
    if (!claims || typeof claims.email !== 'string' || !claims.email) {
      metrics.logins.inc({ outcome: 'no_email' });
      return page(c, 403, 'Sign-in refused', 'The identity provider gave no email address.', again);
    }
    const unbound = bindingRefusal(claims, idp);
    if (unbound) {
      metrics.logins.inc({ outcome: 'other_tenant' });
      log.info({ tenant: login.tenant, user: claims.email }, 'sign-in of a non-member refused');
      return page(c, 403, 'Sign-in refused', `${unbound} (${tenant.tenant.name})`, again);
    }
    const user = {
      sub: claims.sub,
      tenant_id: tenant.tenant.id,
      tenant: tenant.tenant.slug,
      email: claims.email,
      name: typeof claims.name === 'string' && claims.name ? claims.name : claims.email,
      role: roleFromClaims(claims, idp.rolesClaim, idp.adminRoles),
      ...(tokens.refresh_token && {
        rt: await seal(keys, 'refresh-token', { rt: tokens.refresh_token }),
      }),
    };
    // The control plane creates the user now (just in time) and gives its id, which the
    // owner checks of /sessions/ need. If it is down, the id is asked again when needed.
    let uid: string | undefined;
    try {
      uid = (await control.me(await sessions.identityToken(user))).user?.id;
    } catch (err) {
      if (err instanceof IdentityRefused) {
        metrics.logins.inc({ outcome: 'refused' });
        return page(c, 403, 'Sign-in refused', err.message, again);
      }
      if (!(err instanceof ControlPlaneUnavailable)) throw err;
      metrics.upstreamErrors.inc({ upstream: 'control' });
      log.warn({ err, user: user.email }, 'control plane unavailable at sign-in');
    }
    await sessions.establish(c, { ...user, ...(uid && { uid }) });
    // for the next sign-in on the shared host (a tenant's own host names it already)
    if (!tenantHostname(c.req.header('host'), issuer)) {
      setCookie(c, TENANT_COOKIE, tenant.tenant.slug, {
        path: '/login',
        httpOnly: true,
        secure: sessions.secure,
        sameSite: 'Lax',
        maxAge: 30 * 86_400,
      });
    }
    metrics.logins.inc({ outcome: 'ok' });
    c.set('userLabel', user.email);
    log.info({ user: user.email, tenant: user.tenant, role: user.role }, 'signed in');
    return c.redirect(login.returnTo, 302);
  });

  // GET for links; POST (from this site only) for forms. Either ends the session here,
  // revokes the refresh token and, when the provider has one, ends its session too.
  app.on(['GET', 'POST'], '/logout', async (c) => {
    const origin = requestOrigin(c.req.header('host'), issuer);
    if (
      c.req.method === 'POST' &&
      !fromOrigin({ origin: c.req.header('origin'), referer: c.req.header('referer') }, origin)
    ) {
      return page(c, 403, 'Sign out', 'Cross-site sign-out refused.');
    }
    const user = await sessions.current(c, { renew: false });
    sessions.clear(c);
    if (!user) return c.redirect('/', 302);
    log.info({ user: user.email, tenant: user.tenant }, 'signed out');
    try {
      // the cookie's own tenant's provider, never one another tenant's lookup answers with
      const idp = (await control.tenantById(user.tenant_id))?.identityProvider;
      if (!idp) return c.redirect('/', 302);
      const configuration = await idps.configuration(idp);
      if (user.rt && configuration.serverMetadata().revocation_endpoint) {
        const sealed = await unseal(keys, 'refresh-token', user.rt);
        if (typeof sealed?.rt === 'string') {
          await oidc
            .tokenRevocation(configuration, sealed.rt)
            .catch((err) => log.info({ err }, 'refresh token revocation failed'));
        }
      }
      if (!configuration.serverMetadata().end_session_endpoint) return c.redirect('/', 302);
      const end = oidc.buildEndSessionUrl(configuration, {
        client_id: idp.clientId,
        post_logout_redirect_uri: `${origin}/`,
      });
      return c.redirect(end.href, 302);
    } catch (err) {
      // signed out here; the provider's session is its own business if it cannot be reached
      log.info({ err }, 'identity provider sign-out skipped');
      return c.redirect('/', 302);
    }
  });

  return app;
}
