// `session.<state>` events: what a tenant's systems learn of each transition.
import type { SessionState, sessions } from '../db/schema.ts';

type SessionRow = typeof sessions.$inferSelect;

/** The event data of a session's move from `from` to its current state. */
export function sessionEventData(row: SessionRow, from: SessionState | null) {
  return {
    session: {
      id: row.id,
      tenantId: row.tenantId,
      userId: row.userId,
      appId: row.appId,
      clusterId: row.clusterId,
      state: row.state,
      reason: row.reason,
      exitCode: row.exitCode,
      gpu: row.gpuSku ? { sku: row.gpuSku, count: row.gpuCount } : null,
      createdAt: row.createdAt.toISOString(),
    },
    from,
    to: row.state,
  };
}

/**
 * The audit action of a transition no caller asked for (a driver's report, a lifetime or
 * idle stop): Floe itself stopped or failed the session. Progress (placed, starting,
 * running, unknown) and the end of a requested stop are not changes anyone made.
 */
export function systemAuditAction(from: SessionState, to: SessionState): string | null {
  if (to === 'stopping') return 'session.stop';
  if (to === 'failed') return 'session.fail';
  if (to === 'stopped' && from !== 'stopping') return 'session.stop';
  return null;
}
