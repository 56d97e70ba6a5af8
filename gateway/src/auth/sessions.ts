// The signed-in user's session: reading the cookie (and the checks around it), issuing it,
// renewing it past half of its life, and ending it.
//
// Renewal is where the identity provider is asked again: with the sealed refresh token the
// gateway runs a refresh grant, so that a user disabled at the IdP (or whose IdP session was
// revoked) loses access within half a cookie lifetime of activity, and their name and role
// follow the IdP's. The control plane is asked again too (/v1/me: the user's id, and whether
// the tenant still accepts them). An IdP without refresh tokens gets plain re-signing,
// bounded by the absolute limit. Concurrent requests with the same old cookie share one
// renewal (so a provider that rotates refresh tokens sees each token used once), and an IdP
// that cannot be reached leaves the cookie as it is until it expires, retried within a minute.
import { createHash, randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import { type ControlClient, ControlPlaneUnavailable, IdentityRefused } from '../control-client.ts';
import { tenantHostname } from '../host.ts';
import { clearCookie, sendCookie } from '../http/cookies.ts';
import { CSRF_COOKIE } from '../http/csrf.ts';
import type { GatewayEnv } from '../http/env.ts';
import type { GatewayKeys } from '../keys.ts';
import { TtlCache } from '../ttl-cache.ts';
import { renewalBindingRefusal } from './binding.ts';
import { mintIdentity } from './identity-token.ts';
import { classifyOidcError, type IdentityProviders } from './oidc.ts';
import { roleFromClaims } from './roles.ts';
import { seal, unseal } from './sealed.ts';
import {
  renewalDue,
  type SessionClaims,
  type SessionData,
  signSession,
  verifySession,
} from './session-token.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** How long a replica waits for another's renewal of the same cookie, and how often it looks. */
const RENEWAL_WAIT_MS = 10_000;
const RENEWAL_POLL_MS = 100;

type Renewal = { token: string; claims: SessionClaims } | 'keep' | 'end';

export interface SessionSettings {
  issuer: string;
  ttlSeconds: number;
  maxSeconds: number;
}

export class SessionManager {
  readonly secure: boolean;
  readonly cookieName: string;
  private readonly keys: GatewayKeys;
  private readonly control: ControlClient;
  private readonly idps: IdentityProviders;
  private readonly settings: SessionSettings;
  private readonly log: Logger;
  // keyed by a hash of the old cookie; kept 30 s so that requests racing with the renewal,
  // or arriving while the IdP is down, reuse its outcome
  private readonly renewals = new TtlCache<Renewal>({ ttlMs: 30_000 });
  private readonly verifiedCookies = new Map<string, SessionClaims>();

  constructor(opts: {
    keys: GatewayKeys;
    control: ControlClient;
    idps: IdentityProviders;
    settings: SessionSettings;
    log: Logger;
  }) {
    this.keys = opts.keys;
    this.control = opts.control;
    this.idps = opts.idps;
    this.settings = opts.settings;
    this.log = opts.log;
    this.secure = new URL(opts.settings.issuer).protocol === 'https:';
    // __Host-: the browser refuses it unless Secure, Path=/ and no Domain, so a sibling
    // subdomain can neither set nor shadow it
    this.cookieName = this.secure ? '__Host-floe_session' : 'floe_session';
  }

  /** The identity token for the control plane, for this user. */
  identityToken(user: Pick<SessionData, 'tenant_id' | 'email' | 'name' | 'role'>) {
    return mintIdentity(this.keys, this.settings.issuer, {
      tenantId: user.tenant_id,
      email: user.email,
      name: user.name,
      role: user.role,
    });
  }

  /**
   * The claims of a valid cookie. A signature check is a sixth of the work of a proxied
   * request, and a browser sends the same cookie with every one, so good cookies are
   * remembered until they expire; bad ones are not. They are keyed by the cookie itself:
   * hashing it first cost more per request than the lookup (a string key is hashed once
   * by V8), and this process holds each cookie in its requests anyway.
   */
  private async verified(token: string): Promise<SessionClaims | null> {
    const hit = this.cachedClaims(token);
    if (hit) return hit;
    const claims = await verifySession(this.keys, this.settings.issuer, token);
    if (claims) {
      if (this.verifiedCookies.size >= 10_000) this.verifiedCookies.clear();
      this.verifiedCookies.set(token, claims);
    }
    return claims;
  }

  /** The claims of a cookie verified before and not expired; undefined otherwise. */
  cachedClaims(token: string): SessionClaims | undefined {
    const hit = this.verifiedCookies.get(token);
    return hit && hit.exp > nowSeconds() ? hit : undefined;
  }

  /**
   * Whether a request with these claims needs nothing of the session middleware beyond
   * the cookie check: no renewal due, the CSRF cookie as the session expects it, the
   * user's control-plane id known. The fast path (sessions/fast-path.ts) serves only these.
   */
  settled(claims: SessionClaims, csrfCookie: string | undefined, renew: boolean): boolean {
    if (!claims.uid) return false;
    if (!renew) return true;
    const { ttlSeconds, maxSeconds } = this.settings;
    return csrfCookie === claims.csrf && !renewalDue(claims, nowSeconds(), ttlSeconds, maxSeconds);
  }

  /**
   * The signed-in user, or null. A valid cookie still counts for nothing on a tenant's
   * host name when it was issued for another tenant. `renew: false` for answers that
   * cannot carry a cookie (WebSocket upgrades).
   */
  async current(c: Context<GatewayEnv>, opts: { renew: boolean }): Promise<SessionClaims | null> {
    const token = getCookie(c, this.cookieName);
    if (!token) return null;
    let claims = await this.verified(token);
    if (!claims) return null;
    const hostname = tenantHostname(c.req.header('host'), this.settings.issuer);
    if (hostname) {
      const hostTenant = await this.control.tenantByHost(hostname);
      if (hostTenant && hostTenant.tenant.id !== claims.tenant_id) return null;
    }
    const { ttlSeconds, maxSeconds } = this.settings;
    if (opts.renew && renewalDue(claims, nowSeconds(), ttlSeconds, maxSeconds)) {
      const old = claims;
      const key = createHash('sha256').update(token).digest('base64url');
      const renewal = await this.renewals.get(key, () => this.renewOnce(key, old));
      if (renewal === 'end') {
        this.clear(c);
        return null;
      }
      if (renewal !== 'keep') {
        this.setCookies(c, renewal.token, renewal.claims);
        claims = renewal.claims;
      }
    }
    if (opts.renew && getCookie(c, CSRF_COOKIE) !== claims.csrf) this.setCsrfCookie(c, claims);
    return claims;
  }

  /** Signs a session in after a login; the CSRF token is new for every sign-in. */
  async establish(
    c: Context<GatewayEnv>,
    data: Omit<SessionData, 'csrf' | 'signed_in_at'>,
  ): Promise<SessionClaims> {
    const now = nowSeconds();
    const full: SessionData = {
      ...data,
      csrf: randomBytes(24).toString('base64url'),
      signed_in_at: now,
    };
    const { token, claims } = await signSession(this.keys, this.settings.issuer, full, {
      now,
      ttlSeconds: this.settings.ttlSeconds,
      maxSeconds: this.settings.maxSeconds,
    });
    this.setCookies(c, token, claims);
    return claims;
  }

  /** The user's control-plane id: from the cookie, or asked now and kept in a new cookie. */
  async userId(c: Context<GatewayEnv>, user: SessionClaims): Promise<string | undefined> {
    if (user.uid) return user.uid;
    const me = await this.control.me(await this.identityToken(user));
    if (!me.user) return undefined;
    const { iat: _iat, exp: _exp, ...data } = user;
    const { token, claims } = await signSession(
      this.keys,
      this.settings.issuer,
      { ...data, uid: me.user.id },
      {
        now: nowSeconds(),
        ttlSeconds: this.settings.ttlSeconds,
        maxSeconds: this.settings.maxSeconds,
      },
    );
    if (!c.env.upgrade) this.setCookies(c, token, claims);
    return me.user.id;
  }

  /** Ends the session in this browser. */
  clear(c: Context<GatewayEnv>) {
    clearCookie(c, this.cookieName, { path: '/', secure: this.secure });
    clearCookie(c, CSRF_COOKIE, { path: '/', secure: this.secure });
  }

  private setCookies(c: Context<GatewayEnv>, token: string, claims: SessionClaims) {
    sendCookie(c, this.cookieName, token, {
      path: '/',
      httpOnly: true,
      secure: this.secure,
      sameSite: 'Lax',
      maxAge: Math.max(0, claims.exp - nowSeconds()),
    });
    this.setCsrfCookie(c, claims);
  }

  // readable by the gateway's pages (not HttpOnly): they echo it in x-csrf-token
  private setCsrfCookie(c: Context<GatewayEnv>, claims: SessionClaims) {
    sendCookie(c, CSRF_COOKIE, claims.csrf, {
      path: '/',
      secure: this.secure,
      sameSite: 'Lax',
      maxAge: Math.max(0, claims.signed_in_at + this.settings.maxSeconds - nowSeconds()),
    });
  }

  /**
   * The renewal of the cookie whose SHA-256 is `key`, once across the replicas: renewed here
   * when this replica claims it, else the outcome the claiming replica recorded, waited for
   * up to 10 s (then, or when the control plane cannot be asked, the cookie stays as it is).
   * A replica that died while renewing lets its claim lapse after a minute.
   */
  private async renewOnce(key: string, old: SessionClaims): Promise<Renewal> {
    const deadline = Date.now() + RENEWAL_WAIT_MS;
    try {
      for (;;) {
        const claim = await this.control.claimRenewal(key);
        if (claim.claimed) {
          const outcome = await this.renew(old);
          const kept = await this.control.completeRenewal(key, await this.sealOutcome(outcome));
          // ours, or one recorded first by a replica that claimed after our claim lapsed
          return kept ? ((await this.openOutcome(kept)) ?? outcome) : outcome;
        }
        if (claim.outcome !== null) return (await this.openOutcome(claim.outcome)) ?? 'keep';
        if (Date.now() >= deadline) return 'keep';
        await new Promise((resolve) => setTimeout(resolve, RENEWAL_POLL_MS));
      }
    } catch (err) {
      if (!(err instanceof ControlPlaneUnavailable)) throw err;
      this.log.warn(
        { err, user: old.email },
        'session renewal postponed: control plane unavailable',
      );
      return 'keep';
    }
  }

  private sealOutcome(outcome: Renewal): Promise<string> {
    const payload = typeof outcome === 'string' ? { outcome } : { token: outcome.token };
    return seal(this.keys, 'renewal', payload, 120);
  }

  private async openOutcome(sealed: string): Promise<Renewal | null> {
    const payload = await unseal(this.keys, 'renewal', sealed);
    if (payload?.outcome === 'keep' || payload?.outcome === 'end') return payload.outcome;
    if (typeof payload?.token !== 'string') return null;
    const claims = await verifySession(this.keys, this.settings.issuer, payload.token);
    return claims ? { token: payload.token, claims } : null;
  }

  private async renew(old: SessionClaims): Promise<Renewal> {
    const { iat: _iat, exp: _exp, ...data } = old;
    const next: SessionData = { ...data };
    let fresh: Record<string, unknown> | undefined;
    try {
      // the cookie's own tenant and its provider only (tenantById checks the id)
      const found = await this.control.tenantById(old.tenant_id);
      const idp = found?.identityProvider;
      if (!found || !idp) return 'end';
      if (old.rt) {
        const sealed = await unseal(this.keys, 'refresh-token', old.rt);
        if (typeof sealed?.rt !== 'string') return 'end';
        let tokens: Awaited<ReturnType<typeof oidc.refreshTokenGrant>>;
        try {
          const config = await this.idps.configuration(idp);
          tokens = await oidc.refreshTokenGrant(config, sealed.rt);
        } catch (err) {
          const kind = classifyOidcError(err);
          this.log.info({ err, user: old.email, kind }, 'refresh at the identity provider failed');
          return kind === 'rejected' ? 'end' : 'keep';
        }
        const claims = tokens.claims();
        if (claims) {
          if (claims.sub !== old.sub) return 'end';
          fresh = claims;
          if (typeof claims.email === 'string') next.email = claims.email;
          if (typeof claims.name === 'string') next.name = claims.name;
          next.role = roleFromClaims(claims, idp.rolesClaim, idp.adminRoles);
        }
        if (tokens.refresh_token) {
          next.rt = await seal(this.keys, 'refresh-token', { rt: tokens.refresh_token });
        }
      }
      // the user must still belong to the tenant, as its settings say now
      if (renewalBindingRefusal(fresh, next.email, idp)) return 'end';
      try {
        const me = await this.control.me(await this.identityToken(next));
        if (me.user) next.uid = me.user.id;
      } catch (err) {
        if (err instanceof IdentityRefused) return 'end';
        throw err;
      }
    } catch (err) {
      if (!(err instanceof ControlPlaneUnavailable)) throw err;
      this.log.warn(
        { err, user: old.email },
        'session renewal postponed: control plane unavailable',
      );
      return 'keep';
    }
    return signSession(this.keys, this.settings.issuer, next, {
      now: nowSeconds(),
      ttlSeconds: this.settings.ttlSeconds,
      maxSeconds: this.settings.maxSeconds,
    });
  }
}
