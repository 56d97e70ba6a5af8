import { eq } from 'drizzle-orm';
import type { Db } from '../db/connect.ts';
import { type DriverRef, type SessionState, sessionEvents, sessions } from '../db/schema.ts';
import { canTransition } from '../domain/lifecycle.ts';
import type { SessionRow } from './admission.ts';

export interface TransitionDetails {
  reason?: string;
  exitCode?: number;
  endpoint?: string;
  driverRef?: DriverRef;
}

/**
 * Moves a session to `to` and appends the event, atomically. A transition the state
 * machine does not allow (a late or repeated report) changes nothing and returns null,
 * which makes every caller idempotent.
 */
export async function transition(
  db: Db,
  sessionId: string,
  to: SessionState,
  details: TransitionDetails = {},
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
    await tx.insert(sessionEvents).values({
      sessionId,
      tenantId: current.tenantId,
      fromState: current.state,
      toState: to,
      reason: details.reason ?? null,
    });
    return row ?? null;
  });
}
