// Audit entries, written in the transaction of the change they describe (pass its `tx`):
// a change that rolls back leaves no entry, and no change commits without one. HTTP routes
// call this through `audit(c, tx, …)` (src/http/audit.ts), which fills in who and from where.
import { v7 as uuidv7 } from 'uuid';
import type { Db, Tx } from '../db/connect.ts';
import { type AuditActorType, auditLog } from '../db/schema.ts';
import { emitEvent } from '../events/outbox.ts';
import { presentAudit } from './present.ts';

export interface AuditActor {
  type: AuditActorType;
  /** the API key's id (api-key) or the user's id (user); null for admin-token and system */
  id: string | null;
  role: string;
  tenantId: string | null;
}

/** Floe itself: lifetime and idle stops, a cluster's report of a failure. */
export const SYSTEM_ACTOR: AuditActor = {
  type: 'system',
  id: null,
  role: 'system',
  tenantId: null,
};

/** Where a request came from, as the gateway saw it when it came through one. */
export interface RequestOrigin {
  requestId: string | null;
  sourceIp: string | null;
  userAgent: string | null;
}

export interface AuditInput {
  actor: AuditActor;
  origin?: RequestOrigin;
  /** the tenant the change belongs to (who may read the entry); null: platform-wide */
  tenantId: string | null;
  /** `<target type>.<verb>`, e.g. `app.update`, `session.stop` */
  action: string;
  target: { type: string; id: string | null };
  /** what changed, secrets already redacted (see auditDiff) */
  diff?: Record<string, unknown> | null;
}

/** Appends an audit entry in `tx`; a tenant's entry is also an `audit.<action>` event. */
export async function recordAudit(tx: Tx | Db, input: AuditInput): Promise<void> {
  const [row] = await tx
    .insert(auditLog)
    .values({
      id: uuidv7(),
      tenantId: input.tenantId,
      actorType: input.actor.type,
      actorId: input.actor.id,
      actorRole: input.actor.role,
      actorTenantId: input.actor.tenantId,
      action: input.action,
      targetType: input.target.type,
      targetId: input.target.id,
      diff: input.diff ?? null,
      requestId: input.origin?.requestId ?? null,
      sourceIp: input.origin?.sourceIp ?? null,
      userAgent: input.origin?.userAgent ?? null,
    })
    .returning();
  if (row?.tenantId) {
    await emitEvent(tx, {
      tenantId: row.tenantId,
      type: `audit.${row.action}`,
      data: presentAudit(row),
      at: row.at,
    });
  }
}
