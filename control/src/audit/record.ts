// Audit entries, written in the transaction of the change they describe (pass its `tx`):
// a change that rolls back leaves no entry, and no change commits without one. HTTP routes
// call this through `audit(c, tx, …)` (src/http/audit.ts), which fills in who and from where.
import { v7 as uuidv7 } from 'uuid';
import type { Db, Tx } from '../db/connect.ts';
import type { AuditActorType } from '../db/schema.ts';
import { type AuditRowJson, type EventRow, eventRow, writeChange } from '../events/outbox.ts';
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

/**
 * What an audit entry writes: its audit_log row and, for a tenant's entry, its
 * `audit.<action>` event (the entry as the API shows it, its `at` the database's now()).
 * For a change that writes them in its own statement (admission, transitions).
 */
export function auditWrites(input: AuditInput): { audit: AuditRowJson; events: EventRow[] } {
  const audit: AuditRowJson = {
    id: uuidv7(),
    tenant_id: input.tenantId,
    actor_type: input.actor.type,
    actor_id: input.actor.id,
    actor_role: input.actor.role,
    actor_tenant_id: input.actor.tenantId,
    action: input.action,
    target_type: input.target.type,
    target_id: input.target.id,
    diff: input.diff ?? null,
    request_id: input.origin?.requestId ?? null,
    source_ip: input.origin?.sourceIp ?? null,
    user_agent: input.origin?.userAgent ?? null,
  };
  if (!input.tenantId) return { audit, events: [] };
  const shown = presentAudit({
    id: audit.id,
    at: new Date(0), // stamped with the entry's time by the database
    tenantId: audit.tenant_id,
    actorType: input.actor.type,
    actorId: audit.actor_id,
    actorRole: audit.actor_role,
    actorTenantId: audit.actor_tenant_id,
    action: audit.action,
    targetType: audit.target_type,
    targetId: audit.target_id,
    diff: audit.diff,
    requestId: audit.request_id,
    sourceIp: audit.source_ip,
    userAgent: audit.user_agent,
  });
  const event = eventRow({ tenantId: input.tenantId, type: `audit.${input.action}`, data: shown }, [
    'at',
  ]);
  return { audit, events: [event] };
}

/** Appends an audit entry in `tx`, with its `audit.<action>` event: one statement. */
export async function recordAudit(tx: Tx | Db, input: AuditInput): Promise<void> {
  await writeChange(tx, auditWrites(input));
}
