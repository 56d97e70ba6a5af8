// What the regional gateways need from the control plane, for their API key (role
// `gateway`) only: a tenant by slug or id, or by host name, with its identity provider (the one place a
// client secret is ever read back), a session's owner and endpoint for routing, and the
// renewals of session cookies that their replicas share (one refresh at the IdP per cookie).
import { z } from '@hono/zod-openapi';
import { and, asc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from '../db/connect.ts';
import { apps, gatewayRenewals, sessionEvents, sessionGrants, sessions } from '../db/schema.ts';
import { audit } from '../http/audit.ts';
import { requireRole } from '../http/auth.ts';
import { ApiError, notFound } from '../http/errors.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import {
  GatewaySession,
  GatewayTenant,
  SessionJoin,
  SessionViewerAction,
} from '../http/schemas.ts';
import { isUuid, type Lookups } from '../lookups.ts';
import type { SecretBox } from '../secrets.ts';
import { clientSecretContext, requiredClaimOf } from './identity-provider.ts';
import { grantIsLive } from './session-grants.ts';

const tags = ['gateway'];

/** How long a renewal's outcome is kept: the replicas racing on one cookie ask within it. */
const RENEWAL_SECONDS = 60;

const RenewalKey = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, 'a SHA-256 in base64url')
  .openapi({ param: { name: 'key', in: 'path' }, description: 'SHA-256 of the old cookie' });

const RenewalState = z
  .object({
    claimed: z.boolean().openapi({ description: 'true: this caller renews; others wait' }),
    outcome: z
      .string()
      .nullable()
      .openapi({ description: 'sealed by the gateway that renewed; null while it works' }),
  })
  .openapi('GatewayRenewal');

const RenewalOutcome = z
  .strictObject({ outcome: z.string().min(1).max(16_384) })
  .openapi('GatewayRenewalOutcome');
const gateway = [requireRole('gateway')];

/** `Host` as a gateway may pass it: lowercased, without a port. */
const asHostname = (ref: string) => ref.toLowerCase().replace(/:\d+$/, '');

type TenantRow = NonNullable<Awaited<ReturnType<Lookups['tenant']>>>;

export function gatewayRoutes(db: Db, lookups: Lookups, secrets: SecretBox) {
  const app = router();

  /** A tenant with its identity provider, as the gateways see it (the secret decrypted). */
  async function withIdentityProvider(tenant: TenantRow) {
    const idp = await lookups.identityProvider(tenant.id);
    let clientSecret: string | null = null;
    if (idp?.clientSecretSealed) {
      clientSecret = secrets.open(idp.clientSecretSealed, clientSecretContext(tenant.id));
      if (clientSecret === null) {
        throw new ApiError(
          500,
          'secret_unreadable',
          'the stored client secret cannot be decrypted with this control plane’s ' +
            'FLOE_SECRET_KEY; set the key it was stored with, or PUT the secret again',
        );
      }
    }
    return {
      tenant: { id: tenant.id, slug: tenant.slug, name: tenant.name },
      identityProvider: idp
        ? {
            issuer: idp.issuer,
            clientId: idp.clientId,
            clientSecret,
            rolesClaim: idp.rolesClaim,
            adminRoles: idp.adminRoles,
            allowedEmailDomains: idp.allowedEmailDomains,
            requiredClaim: requiredClaimOf(idp),
          }
        : null,
    };
  }

  // Two lookups, never mixed: a slug or id (a login hint, a sign-in cookie's tenant) is
  // never taken for a host name, nor a host name for a slug or id. Host names are fully
  // qualified and so can never equal a slug or id either; one tenant cannot make another's
  // slug select itself.
  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/gateway/tenants/{ref}',
      tags,
      summary: 'A tenant by slug or id, with its identity provider (gateway keys)',
      description: 'The client secret is decrypted here and nowhere else.',
      middleware: gateway,
      request: { params: params('ref') },
      responses: { 200: json(GatewayTenant, 'the tenant') },
    }),
    async (c) => {
      const tenant = await lookups.tenant(c.req.valid('param').ref);
      if (!tenant) throw notFound('tenant');
      return c.json(await withIdentityProvider(tenant), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/gateway/hostnames/{hostname}',
      tags,
      summary: 'The tenant a host name selects, with its identity provider (gateway keys)',
      description: 'Host names only, never slugs or ids. The client secret is decrypted here.',
      middleware: gateway,
      request: { params: params('hostname') },
      responses: { 200: json(GatewayTenant, 'the tenant') },
    }),
    async (c) => {
      const tenant = await lookups.tenantByHostname(asHostname(c.req.valid('param').hostname));
      if (!tenant) throw notFound('tenant');
      return c.json(await withIdentityProvider(tenant), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/gateway/sessions/{session}',
      tags,
      summary: 'A session’s tenant, owner, state and endpoint, for routing (gateway keys)',
      description:
        'An ended session says why: the reason it was asked to stop (by its user, by an ' +
        'admin, at its maximum lifetime), else the reason it stopped or failed with.',
      middleware: gateway,
      request: { params: params('session') },
      responses: { 200: json(GatewaySession, 'the session') },
    }),
    async (c) => {
      const id = c.req.valid('param').session;
      if (!isUuid(id)) throw notFound('session');
      const [row] = await db
        .select({
          id: sessions.id,
          tenantId: sessions.tenantId,
          userId: sessions.userId,
          state: sessions.state,
          endpoint: sessions.endpoint,
          reason: sessions.reason,
          maxLifetimeSeconds: apps.maxLifetimeSeconds,
          // the clock of the maximum lifetime, as sessions/next-step.ts counts it
          runningAt: sql<string | Date | null>`(select min(e.at) from session_events e
            where e.session_id = ${sessions.id} and e.to_state = 'running')`,
        })
        .from(sessions)
        .leftJoin(apps, eq(apps.id, sessions.appId))
        .where(eq(sessions.id, id));
      if (!row) throw notFound('session');
      const ended = row.state === 'stopped' || row.state === 'failed';
      let reason: string | null = null;
      if (ended) {
        // the stop request's reason says who or what ended it; the driver's says only how
        const [stopping] = await db
          .select({ reason: sessionEvents.reason })
          .from(sessionEvents)
          .where(and(eq(sessionEvents.sessionId, id), eq(sessionEvents.toState, 'stopping')))
          .orderBy(asc(sessionEvents.id))
          .limit(1);
        reason = (row.state === 'stopped' ? stopping?.reason : null) ?? row.reason;
      }
      const { maxLifetimeSeconds, runningAt, ...session } = row;
      const running = row.state === 'running';
      const lifetime =
        running && maxLifetimeSeconds && runningAt !== null
          ? {
              seconds: maxLifetimeSeconds,
              endsAt: new Date(
                new Date(runningAt).getTime() + maxLifetimeSeconds * 1000,
              ).toISOString(),
            }
          : null;
      // who else may watch it: only while it runs, and only the grants live now
      const grants = running
        ? (
            await db
              .select()
              .from(sessionGrants)
              .where(and(eq(sessionGrants.sessionId, id), isNull(sessionGrants.revokedAt)))
              .orderBy(asc(sessionGrants.id))
              .limit(500)
          )
            .filter((g) => grantIsLive(g))
            .map((g) => ({
              id: g.id,
              kind: g.kind,
              userId: g.userId,
              role: g.role,
              expiresAt: g.expiresAt?.toISOString() ?? null,
            }))
        : [];
      return c.json(
        { ...session, endpoint: running ? row.endpoint : null, reason, lifetime, grants },
        200,
      );
    },
  );

  // A viewer other than the owner joined the stream: the gateway that let them in says so,
  // for the session's audit trail (the owner's own opens are not recorded).
  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/gateway/sessions/{session}/joins',
      tags,
      summary: 'Record that a user joined a session’s stream through a grant (gateway keys)',
      description: 'A platform admin may record one too (a gateway of its own, tests).',
      middleware: [requireRole('gateway', 'platform-admin')],
      request: { params: params('session'), body: body(SessionJoin) },
      responses: { 204: { description: 'recorded' } },
    }),
    async (c) => {
      const id = c.req.valid('param').session;
      const join = c.req.valid('json');
      if (!isUuid(id)) throw notFound('session');
      const [row] = await db
        .select({ tenantId: sessions.tenantId })
        .from(sessions)
        .where(eq(sessions.id, id));
      if (!row) throw notFound('session');
      await audit(c, db, {
        tenantId: row.tenantId,
        action: 'session.join',
        target: { type: 'session', id },
        diff: {
          viewer: { from: null, to: join.userId },
          role: { from: null, to: join.role },
          grant: { from: null, to: join.grantId },
        },
      });
      return c.body(null, 204);
    },
  );

  // What a session's owner did to a viewer in the stream page (handed control over, took it
  // back, removed them), as the gateway that let the owner's request through reports it.
  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/gateway/sessions/{session}/viewer-actions',
      tags,
      summary: 'Record what a session’s owner did to a viewer of its stream (gateway keys)',
      description: 'A platform admin may record one too (a gateway of its own, tests).',
      middleware: [requireRole('gateway', 'platform-admin')],
      request: { params: params('session'), body: body(SessionViewerAction) },
      responses: { 204: { description: 'recorded' } },
    }),
    async (c) => {
      const id = c.req.valid('param').session;
      const { action, by, viewer } = c.req.valid('json');
      if (!isUuid(id)) throw notFound('session');
      const [row] = await db
        .select({ tenantId: sessions.tenantId, userId: sessions.userId })
        .from(sessions)
        .where(eq(sessions.id, id));
      // only the session's owner acts on its viewers
      if (!row || row.userId !== by) throw notFound('session');
      await audit(c, db, {
        tenantId: row.tenantId,
        action: `session.${action}`,
        target: { type: 'session', id },
        diff: { viewer: { from: null, to: viewer }, by: { from: null, to: by } },
      });
      return c.body(null, 204);
    },
  );

  // A session cookie's renewal, shared by the gateway replicas: the first to claim it asks
  // the identity provider (a rotating refresh token is good for one use), the others read
  // the outcome it writes. A claim whose gateway died expires with the row.
  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/gateway/renewals/{key}',
      tags,
      summary: 'Claim the renewal of a session cookie, or read its outcome (gateway keys)',
      middleware: gateway,
      request: { params: z.object({ key: RenewalKey }) },
      responses: { 200: json(RenewalState, 'claimed by this call, or by another gateway') },
    }),
    async (c) => {
      const { key } = c.req.valid('param');
      await db.delete(gatewayRenewals).where(lt(gatewayRenewals.expiresAt, sql`now()`));
      const [claimed] = await db
        .insert(gatewayRenewals)
        .values({ key, expiresAt: sql`now() + make_interval(secs => ${RENEWAL_SECONDS})` })
        .onConflictDoNothing()
        .returning({ key: gatewayRenewals.key });
      if (claimed) return c.json({ claimed: true, outcome: null }, 200);
      const [row] = await db
        .select({ outcome: gatewayRenewals.outcome })
        .from(gatewayRenewals)
        .where(eq(gatewayRenewals.key, key));
      return c.json({ claimed: false, outcome: row?.outcome ?? null }, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'put',
      path: '/v1/gateway/renewals/{key}',
      tags,
      summary: 'Record the outcome of a claimed renewal (gateway keys)',
      description: 'The first outcome stays: a second one is answered with the first.',
      middleware: gateway,
      request: { params: z.object({ key: RenewalKey }), body: body(RenewalOutcome) },
      responses: { 200: json(RenewalState, 'the outcome that stays') },
    }),
    async (c) => {
      const { key } = c.req.valid('param');
      const { outcome } = c.req.valid('json');
      await db
        .update(gatewayRenewals)
        .set({ outcome })
        .where(and(eq(gatewayRenewals.key, key), isNull(gatewayRenewals.outcome)));
      const [row] = await db
        .select({ outcome: gatewayRenewals.outcome })
        .from(gatewayRenewals)
        .where(eq(gatewayRenewals.key, key));
      if (!row) throw notFound('renewal');
      return c.json({ claimed: false, outcome: row.outcome }, 200);
    },
  );

  return app;
}
