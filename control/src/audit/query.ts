// Reading the audit log: filters → SQL, and a keyset-paginated walk (newest first).
import { and, desc, eq, gte, like, lt, type SQL } from 'drizzle-orm';
import type { Db } from '../db/connect.ts';
import { type AuditActorType, auditLog } from '../db/schema.ts';
import type { AuditRow } from './present.ts';

export interface AuditFilter {
  /** null: every tenant's entries and the platform's (platform admins only) */
  tenantId: string | null;
  actor?: string;
  actorType?: AuditActorType;
  /** an action (`app.update`) or a family (`app.*`) */
  action?: string;
  targetType?: string;
  targetId?: string;
  since?: Date;
  until?: Date;
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (m) => `\\${m}`);

export function auditWhere(f: AuditFilter, cursor?: string): SQL | undefined {
  return and(
    f.tenantId === null ? undefined : eq(auditLog.tenantId, f.tenantId),
    f.actor ? eq(auditLog.actorId, f.actor) : undefined,
    f.actorType ? eq(auditLog.actorType, f.actorType) : undefined,
    f.action?.endsWith('.*')
      ? like(auditLog.action, `${escapeLike(f.action.slice(0, -1))}%`)
      : f.action
        ? eq(auditLog.action, f.action)
        : undefined,
    f.targetType ? eq(auditLog.targetType, f.targetType) : undefined,
    f.targetId ? eq(auditLog.targetId, f.targetId) : undefined,
    f.since ? gte(auditLog.at, f.since) : undefined,
    f.until ? lt(auditLog.at, f.until) : undefined,
    cursor ? lt(auditLog.id, cursor) : undefined,
  );
}

/** One page, newest first: `limit + 1` rows are read to know whether there is another. */
export function auditPage(db: Db, f: AuditFilter, limit: number, cursor?: string) {
  return db
    .select()
    .from(auditLog)
    .where(auditWhere(f, cursor))
    .orderBy(desc(auditLog.id))
    .limit(limit + 1);
}

/** Every matching entry, newest first, read `batch` rows at a time (never all in memory). */
export async function* auditEntries(db: Db, f: AuditFilter, batch = 1_000) {
  let cursor: string | undefined;
  for (;;) {
    const rows: AuditRow[] = await db
      .select()
      .from(auditLog)
      .where(auditWhere(f, cursor))
      .orderBy(desc(auditLog.id))
      .limit(batch);
    yield* rows;
    if (rows.length < batch) return;
    cursor = rows.at(-1)?.id;
  }
}
