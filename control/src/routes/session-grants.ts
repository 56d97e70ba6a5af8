// Sharing a session (issue 19): its owner (or a tenant admin) grants another user of the
// tenant, or whoever of the tenant holds a link, the right to watch it (`viewer`) or to
// control it too (`control`); and revokes that right. The gateway reads the live grants
// beside the session (/v1/gateway/sessions/{id}) and lets those viewers in; it signs the
// links itself (a link's token names its grant, so revoking the grant kills the link).
// Every grant and revoke is audited; a session of another tenant, or another member's, is
// not found, like a missing one.
import { and, desc, eq, isNull } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/connect.ts';
import { sessionGrants, sessions, users } from '../db/schema.ts';
import { isTerminal } from '../domain/session-states.ts';
import { audit, unchanged } from '../http/audit.ts';
import type { Principal } from '../http/auth.ts';
import { badRequest, conflict, notFound } from '../http/errors.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { SessionGrant, SessionGrantCreate } from '../http/schemas.ts';
import { isUuid, type Lookups } from '../lookups.ts';

const tags = ['sessions'];

type GrantRow = typeof sessionGrants.$inferSelect;

export function presentGrant(row: GrantRow, email: string | null) {
  return {
    id: row.id,
    sessionId: row.sessionId,
    kind: row.kind,
    user: row.userId && email !== null ? { id: row.userId, email } : null,
    role: row.role,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}

/** Whether a grant lets its holder in at `now` (the session's state is checked apart). */
export function grantIsLive(
  g: Pick<GrantRow, 'revokedAt' | 'expiresAt'>,
  now = new Date(),
): boolean {
  return g.revokedAt === null && (g.expiresAt === null || g.expiresAt > now);
}

export function sessionGrantRoutes(db: Db, lookups: Lookups) {
  const app = router();
  const one = params('tenant', 'session');

  /** The session, when this caller may share it: its owner, or an admin of its tenant. */
  async function load(tenantId: string, principal: Principal, id: string) {
    if (!isUuid(id)) throw notFound('session');
    const [row] = await db
      .select()
      .from(sessions)
      .where(
        and(
          eq(sessions.id, id),
          eq(sessions.tenantId, tenantId),
          principal.role === 'member' ? eq(sessions.userId, principal.userId ?? '') : undefined,
        ),
      );
    if (!row) throw notFound('session');
    return row;
  }

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/tenants/{tenant}/sessions/{session}/grants',
      tags,
      summary: 'Who a session is shared with: its grants, newest first (revoked ones too)',
      request: { params: one },
      responses: { 200: json(SessionGrant.array(), 'the grants') },
    }),
    async (c) => {
      const session = await load(
        c.get('tenant').id,
        c.get('principal'),
        c.req.valid('param').session,
      );
      const rows = await db
        .select({ grant: sessionGrants, email: users.email })
        .from(sessionGrants)
        .leftJoin(users, eq(users.id, sessionGrants.userId))
        .where(eq(sessionGrants.sessionId, session.id))
        .orderBy(desc(sessionGrants.id))
        .limit(500);
      return c.json(
        rows.map((r) => presentGrant(r.grant, r.email)),
        200,
      );
    },
  );

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/tenants/{tenant}/sessions/{session}/grants',
      tags,
      summary: 'Share a session with a user of its tenant, or make a link that expires',
      description:
        'A user grant replaces that user’s live one (its role or expiry changes). A link’s ' +
        'URL is signed by the gateway (POST /sessions/{id}/links there); its holder must be ' +
        'signed in to the same tenant. The session must not have ended (409).',
      request: { params: one, body: body(SessionGrantCreate) },
      responses: { 201: json(SessionGrant, 'the grant') },
    }),
    async (c) => {
      const tenant = c.get('tenant');
      const principal = c.get('principal');
      const session = await load(tenant.id, principal, c.req.valid('param').session);
      if (isTerminal(session.state)) throw conflict(`the session has ${session.state}`);
      const input = c.req.valid('json');
      let user: { id: string; email: string } | null = null;
      if (input.kind === 'user') {
        const found = await lookups.user(tenant.id, input.user);
        if (!found) throw notFound('user');
        if (found.id === session.userId) throw badRequest('the session is already its owner’s');
        user = { id: found.id, email: found.email };
      }
      const seconds = input.expiresInSeconds;
      const expiresAt = seconds === undefined ? null : new Date(Date.now() + seconds * 1000);
      const row = await db.transaction(async (tx) => {
        // sharing with a user again replaces the grant before (the unique live index)
        const replaced = user
          ? await tx
              .update(sessionGrants)
              .set({ revokedAt: new Date() })
              .where(
                and(
                  eq(sessionGrants.sessionId, session.id),
                  eq(sessionGrants.userId, user.id),
                  isNull(sessionGrants.revokedAt),
                ),
              )
              .returning({ id: sessionGrants.id, role: sessionGrants.role })
          : [];
        const [created] = await tx
          .insert(sessionGrants)
          .values({
            id: uuidv7(),
            tenantId: tenant.id,
            sessionId: session.id,
            kind: input.kind,
            userId: user?.id ?? null,
            role: input.role,
            createdBy: principal.userId,
            expiresAt,
          })
          .returning();
        await audit(c, tx, {
          tenantId: tenant.id,
          action: 'session.share',
          target: { type: 'session', id: session.id },
          diff: {
            grant: { from: replaced[0]?.id ?? null, to: created!.id },
            kind: { from: null, to: input.kind },
            user: { from: null, to: user?.id ?? null },
            role: { from: replaced[0]?.role ?? null, to: input.role },
            expiresAt: { from: null, to: expiresAt?.toISOString() ?? null },
          },
        });
        return created!;
      });
      return c.json(presentGrant(row, user?.email ?? null), 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/tenants/{tenant}/sessions/{session}/grants/{grant}',
      tags,
      summary: 'Revoke a grant: its user or link no longer opens the session',
      description:
        'Viewers already watching are removed by the owner in the stream page; a new ' +
        'connection is refused within a second (the gateway’s cache). Revoking a revoked ' +
        'grant changes nothing.',
      request: { params: params('tenant', 'session', 'grant') },
      responses: { 200: json(SessionGrant, 'the revoked grant') },
    }),
    async (c) => {
      const tenant = c.get('tenant');
      const { session: sessionId, grant } = c.req.valid('param');
      const session = await load(tenant.id, c.get('principal'), sessionId);
      if (!isUuid(grant)) throw notFound('grant');
      const where = and(eq(sessionGrants.id, grant), eq(sessionGrants.sessionId, session.id));
      const row = await db.transaction(async (tx) => {
        const [revoked] = await tx
          .update(sessionGrants)
          .set({ revokedAt: new Date() })
          .where(and(where, isNull(sessionGrants.revokedAt)))
          .returning();
        if (revoked) {
          await audit(c, tx, {
            tenantId: tenant.id,
            action: 'session.unshare',
            target: { type: 'session', id: session.id },
            diff: {
              grant: { from: revoked.id, to: null },
              revokedAt: { from: null, to: revoked.revokedAt?.toISOString() ?? null },
            },
          });
          return revoked;
        }
        const [before] = await tx.select().from(sessionGrants).where(where);
        if (!before) throw notFound('grant');
        unchanged(c);
        return before;
      });
      const email = row.userId ? ((await lookups.user(tenant.id, row.userId))?.email ?? '') : null;
      return c.json(presentGrant(row, email), 200);
    },
  );

  return app;
}
