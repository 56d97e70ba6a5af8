import type { auditLog } from '../db/schema.ts';

export type AuditRow = typeof auditLog.$inferSelect;

/** An audit row as the API, the JSONL export and `audit.*` webhooks show it. */
export function presentAudit(r: AuditRow) {
  return {
    id: r.id,
    at: r.at.toISOString(),
    tenantId: r.tenantId,
    actor: { type: r.actorType, id: r.actorId, role: r.actorRole, tenantId: r.actorTenantId },
    action: r.action,
    target: { type: r.targetType, id: r.targetId },
    diff: r.diff,
    request: { id: r.requestId, sourceIp: r.sourceIp, userAgent: r.userAgent },
  };
}
