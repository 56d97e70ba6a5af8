// The control plane as the gateway calls it: with its own API key (role `gateway`) for the
// tenant and session lookups of /v1/gateway/*, and with a user's identity token for /v1/me.
import type { GatewaySession as GatewaySessionBody } from '@floe/control/api-types';
import { SESSION_STATES } from '@floe/control/session-states';
import { z } from 'zod';
import { TtlCache } from './ttl-cache.ts';

const TenantRef = z.object({ id: z.string().min(1), slug: z.string().min(1), name: z.string() });

const IdentityProviderSettings = z.object({
  issuer: z.string().min(1),
  clientId: z.string().min(1),
  clientSecret: z.string().nullable(),
  rolesClaim: z.string().min(1),
  adminRoles: z.array(z.string()),
  allowedEmailDomains: z.array(z.string()),
  requiredClaim: z.object({ name: z.string().min(1), value: z.string().min(1) }).nullable(),
});

const GatewayTenant = z.object({
  tenant: TenantRef,
  identityProvider: IdentityProviderSettings.nullable(),
});

/** The control plane's GatewaySession (its type, checked on arrival by this schema). */
const GatewaySession = z.object({
  id: z.string(),
  tenantId: z.string(),
  userId: z.string(),
  state: z.enum(SESSION_STATES),
  endpoint: z.string().nullable(),
  /** why it ended (stopped or failed) */
  reason: z.string().nullable().default(null),
  /** a running session's maximum lifetime (the stream page warns before it ends) */
  lifetime: z.object({ seconds: z.number(), endsAt: z.string() }).nullable().default(null),
  /** who else may watch it (issue 19); a control plane before sharing sends none */
  grants: z
    .array(
      z.object({
        id: z.string(),
        kind: z.enum(['user', 'link']),
        userId: z.string().nullable(),
        role: z.enum(['viewer', 'control']),
        expiresAt: z.string().nullable(),
      }),
    )
    .default([]),
}) satisfies z.ZodType<GatewaySessionBody>;

const RenewalClaim = z.object({ claimed: z.boolean(), outcome: z.string().nullable() });

const Me = z.object({
  role: z.string(),
  tenant: TenantRef.nullable(),
  user: z.object({ id: z.string().min(1), email: z.string() }).nullable(),
});

export type IdentityProviderSettings = z.infer<typeof IdentityProviderSettings>;
export type GatewayTenant = z.infer<typeof GatewayTenant>;
export type GatewaySession = GatewaySessionBody;
export type Me = z.infer<typeof Me>;
export type RenewalClaim = z.infer<typeof RenewalClaim>;

/** The control plane did not answer as it should (down, 5xx, or an unexpected answer). */
export class ControlPlaneUnavailable extends Error {}

/** The control plane refused the user's identity (e.g. a user an admin removed). */
export class IdentityRefused extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const TIMEOUT_MS = 5_000;
const RUNNING_SESSION_CACHE_MS = 1_000;
/**
 * A cached running session older than this is asked for again in the background while its
 * answer still serves: under steady traffic no request waits for the control plane (a
 * wait of a few ms once a second per session was the proxy's p99), and no answer is ever
 * older than RUNNING_SESSION_CACHE_MS.
 */
const RUNNING_SESSION_REFRESH_MS = RUNNING_SESSION_CACHE_MS / 2;

export class ControlClient {
  readonly url: string;
  private readonly token: string;
  private readonly tenants: TtlCache<GatewayTenant | null>;
  private readonly running: Map<string, { session: GatewaySession; until: number }>;
  private readonly sessionLookups = new Map<string, Promise<GatewaySession | null>>();

  constructor(opts: { url: string; token: string; tenantCacheMs: number }) {
    this.url = opts.url;
    this.token = opts.token;
    this.tenants = new TtlCache({ ttlMs: opts.tenantCacheMs });
    this.running = new Map();
  }

  private async call(
    path: string,
    token: string,
    opts: { method?: string; body?: unknown } = {},
  ): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, {
        method: opts.method ?? 'GET',
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(opts.body !== undefined && { 'content-type': 'application/json' }),
        },
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (err) {
      throw new ControlPlaneUnavailable(`control plane unreachable: ${(err as Error).message}`);
    }
  }

  private async read<T>(res: Response, schema: z.ZodType<T>, what: string): Promise<T> {
    const parsed = schema.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new ControlPlaneUnavailable(`unexpected ${what} from control plane`);
    return parsed.data;
  }

  private lookup(path: string, key: string): Promise<GatewayTenant | null> {
    return this.tenants.get(key, async () => {
      const res = await this.call(path, this.token);
      if (res.status === 404) return null;
      if (res.status !== 200) {
        throw new ControlPlaneUnavailable(`tenant lookup answered ${res.status}`);
      }
      return this.read(res, GatewayTenant, 'tenant');
    });
  }

  /**
   * A tenant and its identity provider by slug or id (a login hint); null when unknown, or
   * when the answer is not the tenant of that slug or id. Never by host name. Cached
   * (unknown ones too, so that probing does not reach the control plane).
   */
  async tenant(ref: string): Promise<GatewayTenant | null> {
    const key = ref.toLowerCase();
    const found = await this.lookup(`/v1/gateway/tenants/${encodeURIComponent(key)}`, `ref:${key}`);
    return found && (found.tenant.slug === key || found.tenant.id === key) ? found : null;
  }

  /**
   * The tenant a sign-in (cookie or login state) belongs to, by its id; null unless the
   * answer is that very tenant. Every use of a tenant's identity provider for a signed-in
   * user goes through here, so no other tenant's provider can ever be asked.
   */
  async tenantById(id: string): Promise<GatewayTenant | null> {
    const found = await this.tenant(id);
    return found && found.tenant.id === id.toLowerCase() ? found : null;
  }

  /** The tenant a host name selects (host names only, never slugs or ids); null when none. */
  tenantByHost(hostname: string): Promise<GatewayTenant | null> {
    const key = hostname.toLowerCase();
    return this.lookup(`/v1/gateway/hostnames/${encodeURIComponent(key)}`, `host:${key}`);
  }

  /**
   * A session's owner, state and endpoint; null when unknown. A running session is cached
   * for a second: a stream's page, assets and signalling would otherwise each ask the control
   * plane. Concurrent misses for one session share one call. A stop forwarded through this
   * gateway forgets it at once (forgetSession); one made elsewhere is seen within the second,
   * when its streamer is gone anyway.
   */
  session(id: string): Promise<GatewaySession | null> {
    const hit = this.cachedSession(id);
    if (hit) return Promise.resolve(hit);
    return this.sessionLookups.get(id) ?? this.lookUpSession(id);
  }

  /**
   * Asks the control plane for a session; concurrent callers share the lookup. Its answer is
   * cached only while it is still the lookup on record: one that a forget (a stop or a
   * grant changed through this gateway) or a newer lookup replaced answered too early.
   */
  private lookUpSession(id: string): Promise<GatewaySession | null> {
    const lookup: Promise<GatewaySession | null> = this.fetchSession(id)
      .then((session) => {
        if (session?.state !== 'running') this.running.delete(id);
        else if (this.sessionLookups.get(id) === lookup) {
          if (this.running.size >= 10_000) this.running.clear();
          this.running.set(id, { session, until: Date.now() + RUNNING_SESSION_CACHE_MS });
        }
        return session;
      })
      .finally(() => {
        if (this.sessionLookups.get(id) === lookup) this.sessionLookups.delete(id);
      });
    this.sessionLookups.set(id, lookup);
    return lookup;
  }

  /**
   * The running session from the cache, without waiting: undefined when not cached. A hit
   * past its refresh time starts a lookup in the background (one per session); if that
   * fails, the hit still ends at its time, and requests then wait for the control plane.
   */
  cachedSession(id: string): GatewaySession | undefined {
    const hit = this.running.get(id);
    if (!hit) return undefined;
    const now = Date.now();
    if (hit.until <= now) return undefined;
    if (
      hit.until - now < RUNNING_SESSION_CACHE_MS - RUNNING_SESSION_REFRESH_MS &&
      !this.sessionLookups.has(id)
    ) {
      this.lookUpSession(id).catch(() => {}); // a later miss's caller sees the error
    }
    return hit.session;
  }

  private async fetchSession(id: string): Promise<GatewaySession | null> {
    const res = await this.call(`/v1/gateway/sessions/${encodeURIComponent(id)}`, this.token);
    if (res.status === 404) return null;
    if (res.status !== 200)
      throw new ControlPlaneUnavailable(`session lookup answered ${res.status}`);
    return this.read(res, GatewaySession, 'session');
  }

  /** Other processes of this gateway that cache sessions too (node:cluster workers). */
  peers: { forget(id: string): Promise<void> } | null = null;

  /**
   * Forgets a session here (stopped, or its grants changed), and resolves once the other
   * processes have too.
   */
  async forgetSession(id: string): Promise<void> {
    this.forgetLocally(id);
    await Promise.all([this.peers?.forget(id), this.forgotten?.(id)]);
  }

  /** Told of each session forgotten through this gateway, answered after it (the edge). */
  forgotten: ((id: string) => Promise<void>) | null = null;

  forgetLocally(id: string) {
    this.running.delete(id);
    this.sessionLookups.delete(id);
  }

  /**
   * The tenant a host name selects, from the cache only: undefined when it is not cached
   * (null when it is cached as selecting none).
   */
  cachedTenantByHost(hostname: string): GatewayTenant | null | undefined {
    return this.tenants.peek(`host:${hostname.toLowerCase()}`);
  }

  /**
   * Claims the renewal of the session cookie whose SHA-256 is `key` for this gateway
   * (`claimed`), or reads the outcome another replica recorded (null while it works).
   */
  async claimRenewal(key: string): Promise<RenewalClaim> {
    const path = `/v1/gateway/renewals/${encodeURIComponent(key)}`;
    const res = await this.call(path, this.token, { method: 'POST' });
    if (res.status !== 200)
      throw new ControlPlaneUnavailable(`renewal claim answered ${res.status}`);
    return this.read(res, RenewalClaim, 'renewal');
  }

  /** Records the sealed outcome of a claimed renewal; answers the one that stays. */
  async completeRenewal(key: string, outcome: string): Promise<string | null> {
    const path = `/v1/gateway/renewals/${encodeURIComponent(key)}`;
    const res = await this.call(path, this.token, { method: 'PUT', body: { outcome } });
    if (res.status !== 200) throw new ControlPlaneUnavailable(`renewal answered ${res.status}`);
    return (await this.read(res, RenewalClaim, 'renewal')).outcome;
  }

  /** Records, for the session's audit trail, that a user joined its stream through a grant. */
  async recordJoin(
    sessionId: string,
    join: { userId: string; role: 'viewer' | 'control'; grantId: string | null },
  ): Promise<void> {
    const path = `/v1/gateway/sessions/${encodeURIComponent(sessionId)}/joins`;
    const res = await this.call(path, this.token, { method: 'POST', body: join });
    if (res.status !== 204) throw new ControlPlaneUnavailable(`join answered ${res.status}`);
  }

  /** Records, for the session's audit trail, what its owner did to a viewer of its stream. */
  async recordViewerAction(
    sessionId: string,
    act: { action: 'give-control' | 'take-control' | 'remove'; by: string; viewer: string },
  ): Promise<void> {
    const path = `/v1/gateway/sessions/${encodeURIComponent(sessionId)}/viewer-actions`;
    const res = await this.call(path, this.token, { method: 'POST', body: act });
    if (res.status !== 204)
      throw new ControlPlaneUnavailable(`viewer action answered ${res.status}`);
  }

  /** Who the identity token is at the control plane (its user is created on first sight). */
  async me(identityToken: string): Promise<Me> {
    const res = await this.call('/v1/me', identityToken);
    if (res.status === 401 || res.status === 403) {
      const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
      throw new IdentityRefused(res.status, body?.error?.message ?? 'identity refused');
    }
    if (res.status !== 200) throw new ControlPlaneUnavailable(`/v1/me answered ${res.status}`);
    return this.read(res, Me, '/v1/me answer');
  }
}
