// The transactional outbox: an event becomes one webhook_deliveries row per endpoint that
// asked for it, written with the caller's transaction, so that a change that rolls back
// sends nothing and one that commits is never lost. The delivery worker
// (src/webhooks/worker.ts) sends the rows; nothing here does I/O beyond the database.
//
// The rows are written by floe_write_change (drizzle/0010_change_writes.sql): one
// INSERT … SELECT FROM webhook_endpoints for all of a change's events and its audit entry,
// so a change pays one statement for them, and a tenant without endpoints no lookup.
import { type SQL, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { type Db, queryRows, type Tx } from '../db/connect.ts';
import type { EventType } from './types.ts';

export interface EventInput {
  tenantId: string;
  type: EventType;
  data: Record<string, unknown>;
  /** when it happened; default now() in the database (the change's transaction time) */
  at?: Date;
}

/** The body every endpoint receives (Standard Webhooks' recommended shape). */
export interface EventPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
  [key: string]: unknown;
}

/** An event as floe_write_change takes it; the database builds the payload from it. */
export interface EventRow {
  /** the event id: the `webhook-id` every endpoint receives for it */
  id: string;
  tenant: string;
  type: EventType;
  /** ISO time; null: the database's now(), for a change whose time only it knows */
  at: string | null;
  data: Record<string, unknown>;
  /** dotted paths in `data` set to the event's time by the database (see `at`) */
  stamp?: string[];
}

/** The event as the outbox writes it; `stamp` names fields of `data` holding the change's time. */
export function eventRow(event: EventInput, stamp?: string[]): EventRow {
  return {
    id: uuidv7(),
    tenant: event.tenantId,
    type: event.type,
    at: event.at ? event.at.toISOString() : null,
    data: event.data,
    ...(stamp && { stamp }),
  };
}

/** An audit_log row as floe_write_change takes it (column names; `at` is now()). */
export interface AuditRowJson {
  id: string;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_role: string;
  actor_tenant_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  diff: Record<string, unknown> | null;
  request_id: string | null;
  source_ip: string | null;
  user_agent: string | null;
}

/** What a change writes beside itself: its webhook events and its audit entry. */
export interface ChangeWrites {
  events: EventRow[];
  audit: AuditRowJson | null;
}

/** The two arguments of floe_write_change (and of the functions that end with it). */
export function changeArgs(w: ChangeWrites): SQL {
  return sql`${JSON.stringify(w.events)}::jsonb, ${w.audit ? JSON.stringify(w.audit) : null}::jsonb`;
}

/** Writes a change's events and audit entry in `tx` in one statement; returns deliveries queued. */
export async function writeChange(tx: Tx | Db, w: ChangeWrites): Promise<number> {
  const [row] = await queryRows<{ queued: number }>(
    tx,
    sql`select floe_write_change(${changeArgs(w)}) as queued`,
  );
  return Number(row?.queued ?? 0);
}

/**
 * Queues `event` for the tenant's enabled endpoints subscribed to its type, inside `tx`
 * (pass the transaction of the change). Returns the event id (the `webhook-id` receivers
 * see), or null when no endpoint wants it and nothing was written.
 */
export async function emitEvent(tx: Tx | Db, event: EventInput): Promise<string | null> {
  const row = eventRow(event);
  const queued = await writeChange(tx, { events: [row], audit: null });
  return queued > 0 ? row.id : null;
}
