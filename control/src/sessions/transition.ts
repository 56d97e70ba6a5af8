import { eq } from 'drizzle-orm';
import { type AuditActor, type RequestOrigin, recordAudit, SYSTEM_ACTOR } from '../audit/record.ts';
import type { Db } from '../db/connect.ts';
import { type DriverRef, type SessionState, sessionEvents, sessions } from '../db/schema.ts';
import { canTransition } from '../domain/lifecycle.ts';
import { emitEvent } from '../events/outbox.ts';
import { sessionEventData, systemAuditAction } from '../events/session.ts';
import type { SessionRow } from './admission.ts';

export interface TransitionDetails {
  reason?: string;
  exitCode?: number;
  endpoint?: string;
  driverRef?: DriverRef;
}

/** Who asked for a transition (a stop through the API); absent: Floe itself. */
export interface TransitionBy {
  actor: AuditActor;
  origin?: RequestOrigin;
  action: string;
}

/**
 * Moves a session to `to` and appends the event, atomically, with its `session.<state>`
 * webhook event and (for a change someone or the system made) its audit entry in the same
 * transaction. A transition the state machine does not allow (a late or repeated report)
 * changes nothing and returns null, which makes every caller idempotent.
 */
export async function transition(
  db: Db,
  sessionId: string,
  to: SessionState,
  details: TransitionDetails = {},
  by?: TransitionBy,
): Promise<SessionRow | null> {
  return db.transaction(async (tx) => {
    const [current] = await tx
      .select({ state: sessions.state, tenantId: sessions.tenantId })
      .from(sessions)
      .where(eq(sessions.id, sessionId))
      .for('update');
    if (!current || !canTransition(current.state, to)) return null;
    const [row] = await tx
      .update(sessions)
      .set({
        state: to,
        updatedAt: new Date(),
        ...(details.reason !== undefined && { reason: details.reason }),
        ...(details.exitCode !== undefined && { exitCode: details.exitCode }),
        ...(details.endpoint !== undefined && { endpoint: details.endpoint }),
        ...(details.driverRef !== undefined && { driverRef: details.driverRef }),
      })
      .where(eq(sessions.id, sessionId))
      .returning();
    if (!row) return null;
    await tx.insert(sessionEvents).values({
      sessionId,
      tenantId: current.tenantId,
      fromState: current.state,
      toState: to,
      reason: details.reason ?? null,
    });
    await emitEvent(tx, {
      tenantId: current.tenantId,
      type: `session.${to}`,
      data: sessionEventData(row, current.state),
      at: row.updatedAt,
    });
    const action = by?.action ?? systemAuditAction(current.state, to);
    if (action) {
      await recordAudit(tx, {
        actor: by?.actor ?? SYSTEM_ACTOR,
        origin: by?.origin,
        tenantId: current.tenantId,
        action,
        target: { type: 'session', id: sessionId },
        diff: {
          state: { from: current.state, to },
          ...(details.reason !== undefined && { reason: { from: null, to: details.reason } }),
        },
      });
    }
    return row;
  });
}
