// Users signed in at a gateway are created just in time, on their first request; their
// identity provider stays the source of truth for their role (and name).
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import { type AuditActor, type RequestOrigin, recordAudit } from '../audit/record.ts';
import type { Db } from '../db/connect.ts';
import { users } from '../db/schema.ts';
import type { GatewayIdentity } from '../http/gateway-token.ts';
import type { Lookups } from '../lookups.ts';

type UserRow = typeof users.$inferSelect;

export type JitDecision =
  | { kind: 'use'; userId: string }
  | { kind: 'update'; userId: string; set: Partial<Pick<UserRow, 'role' | 'name'>> }
  | { kind: 'create' }
  | { kind: 'refuse'; message: string };

/** What to do for an identity, given its live user (if any) and whether one was removed. */
export function decideJit(
  live: Pick<UserRow, 'id' | 'role' | 'name'> | undefined,
  removed: boolean,
  identity: GatewayIdentity,
): JitDecision {
  if (!live) {
    // a user an admin removed is not brought back by signing in again
    return removed
      ? { kind: 'refuse', message: 'this user was removed from the tenant' }
      : { kind: 'create' };
  }
  const set: Partial<Pick<UserRow, 'role' | 'name'>> = {};
  if (live.role !== identity.role) set.role = identity.role;
  if (identity.name !== undefined && live.name !== identity.name) set.name = identity.name;
  return Object.keys(set).length > 0
    ? { kind: 'update', userId: live.id, set }
    : { kind: 'use', userId: live.id };
}

export class JitRefused extends Error {}

/**
 * The id of the identity's user in its tenant: found, updated to the token's role and name,
 * or created. Throws JitRefused for a removed user. Concurrent first requests of one user
 * create it once (the live-email unique index; the loser reads the winner's row).
 */
export async function provisionUser(
  db: Db,
  lookups: Lookups,
  tenantId: string,
  identity: GatewayIdentity,
  /** who the change is audited as, given the user's id */
  auditAs: (userId: string) => { actor: AuditActor; origin: RequestOrigin },
): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const live = await lookups.user(tenantId, identity.email);
    const removed = live ? false : await wasRemoved(db, tenantId, identity.email);
    const decision = decideJit(live, removed, identity);
    switch (decision.kind) {
      case 'use':
        return decision.userId;
      case 'refuse':
        throw new JitRefused(decision.message);
      case 'update':
        await db.transaction(async (tx) => {
          await tx
            .update(users)
            .set({ ...decision.set, updatedAt: new Date() })
            .where(eq(users.id, decision.userId));
          await recordAudit(tx, {
            ...auditAs(decision.userId),
            tenantId,
            action: 'user.sign-in-update',
            target: { type: 'user', id: decision.userId },
            diff: auditDiff(
              { role: live?.role, ...(decision.set.name !== undefined && { name: live?.name }) },
              decision.set,
            ),
          });
        });
        lookups.clear();
        return decision.userId;
      case 'create': {
        const id = uuidv7();
        const values = {
          id,
          tenantId,
          email: identity.email,
          role: identity.role,
          name: identity.name ?? null,
        };
        const row = await db.transaction(async (tx) => {
          const [created] = await tx
            .insert(users)
            .values(values)
            .onConflictDoNothing()
            .returning({ id: users.id });
          if (created) {
            await recordAudit(tx, {
              ...auditAs(id),
              tenantId,
              action: 'user.sign-in-create',
              target: { type: 'user', id },
              diff: auditDiff(null, values),
            });
          }
          return created;
        });
        lookups.clear();
        if (row) return row.id;
        // another request created the user first: read it (once)
        if (attempt > 0) throw new Error('the user could neither be created nor found');
      }
    }
  }
}

async function wasRemoved(db: Db, tenantId: string, email: string) {
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(
      and(
        eq(users.tenantId, tenantId),
        isNotNull(users.deletedAt),
        sql`lower(${users.email}) = lower(${email})`,
      ),
    )
    .limit(1);
  return row !== undefined;
}
