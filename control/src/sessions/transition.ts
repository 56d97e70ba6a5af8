import { eq, getTableColumns, sql } from 'drizzle-orm';
import { type AuditActor, auditWrites, type RequestOrigin, SYSTEM_ACTOR } from '../audit/record.ts';
import { type Db, queryRows } from '../db/connect.ts';
import { sessionChanged } from '../db/notify.ts';
import { type DriverRef, type SessionState, sessions } from '../db/schema.ts';
import { canTransition } from '../domain/lifecycle.ts';
import { type ChangeWrites, changeArgs, eventRow } from '../events/outbox.ts';
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

// a row changed between our read and our write: read again; more than this many in a row
// means something rewrites the session in a loop
const MAX_ATTEMPTS = 50;

/**
 * Moves a session to `to` and appends the event, atomically, with its `session.<state>`
 * webhook event and (for a change someone or the system made) its audit entry in the same
 * transaction. A transition the state machine does not allow (a late or repeated report)
 * changes nothing and returns null, which makes every caller idempotent.
 *
 * Two statements and no explicit transaction: the session is read with its row version
 * (`xmin`), and one statement updates it only if that version is still current, appends
 * its session_events row and writes its events and audit entry (floe_write_change), all
 * at the statement's time (the session's updatedAt, the event's timestamp). A
 * concurrent change in between makes the update match nothing, and the transition is
 * decided again on the new row, as the row lock this replaces would have made it wait.
 */
export async function transition(
  db: Db,
  sessionId: string,
  to: SessionState,
  details: TransitionDetails = {},
  by?: TransitionBy,
): Promise<SessionRow | null> {
  for (let attempt = 1; ; attempt++) {
    const [current] = await db
      .select({ ...getTableColumns(sessions), version: sql<string>`xmin::text` })
      .from(sessions)
      .where(eq(sessions.id, sessionId));
    if (!current || !canTransition(current.state, to)) return null;
    const { version, ...before } = current;
    const row: SessionRow = {
      ...before,
      state: to,
      updatedAt: new Date(0), // the statement's now(), read back below
      ...(details.reason !== undefined && { reason: details.reason }),
      ...(details.exitCode !== undefined && { exitCode: details.exitCode }),
      ...(details.endpoint !== undefined && { endpoint: details.endpoint }),
      ...(details.driverRef !== undefined && { driverRef: details.driverRef }),
    };
    const writes = transitionWrites(before, row, details, by);
    const written = await queryRows<{ updated_at: string | Date }>(
      db,
      sql`with moved as (
        update sessions set state = ${row.state}, updated_at = now(),
          reason = ${row.reason}, exit_code = ${row.exitCode}::int, endpoint = ${row.endpoint},
          driver_ref = ${row.driverRef === null ? null : JSON.stringify(row.driverRef)}::jsonb
        where id = ${sessionId} and xmin::text = ${version}
        returning id, tenant_id, updated_at
      ), logged as (
        insert into session_events (session_id, tenant_id, from_state, to_state, reason)
        select id, tenant_id, ${before.state}, ${to}, ${details.reason ?? null}::text from moved
      )
      select updated_at, floe_write_change(${changeArgs(writes)}) from moved`,
    );
    if (written[0]) {
      const moved = { ...row, updatedAt: new Date(written[0].updated_at) };
      sessionChanged(db, moved); // after the commit, to every replica (db/notify.ts says why)
      return moved;
    }
    if (attempt >= MAX_ATTEMPTS) {
      throw new Error(
        `session ${sessionId} changed under ${attempt} transitions to ${to} in a row`,
      );
    }
  }
}

/** A transition's webhook event and, when someone or Floe itself made it, its audit entry. */
function transitionWrites(
  before: SessionRow,
  row: SessionRow,
  details: TransitionDetails,
  by: TransitionBy | undefined,
): ChangeWrites {
  const event = eventRow({
    tenantId: row.tenantId,
    type: `session.${row.state}`,
    data: sessionEventData(row, before.state),
    // at: the transition's time, the database's now(), as its session_events row
  });
  const action = by?.action ?? systemAuditAction(before.state, row.state);
  if (!action) return { events: [event], audit: null };
  const audit = auditWrites({
    actor: by?.actor ?? SYSTEM_ACTOR,
    origin: by?.origin,
    tenantId: row.tenantId,
    action,
    target: { type: 'session', id: row.id },
    diff: {
      state: { from: before.state, to: row.state },
      ...(details.reason !== undefined && { reason: { from: null, to: details.reason } }),
    },
  });
  return { events: [event, ...audit.events], audit: audit.audit };
}
