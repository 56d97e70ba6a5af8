// The transactional outbox: an event becomes one webhook_deliveries row per endpoint that
// asked for it, written with the caller's transaction, so that a change that rolls back
// sends nothing and one that commits is never lost. The delivery worker
// (src/webhooks/worker.ts) sends the rows; nothing here does I/O beyond the database.
import { and, eq, isNull, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import type { Db, Tx } from '../db/connect.ts';
import { webhookDeliveries, webhookEndpoints } from '../db/schema.ts';
import type { EventType } from './types.ts';

export interface EventInput {
  tenantId: string;
  type: EventType;
  data: Record<string, unknown>;
  /** when it happened; default now */
  at?: Date;
}

/** The body every endpoint receives (Standard Webhooks' recommended shape). */
export interface EventPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * Queues `event` for the tenant's enabled endpoints subscribed to its type, inside `tx`
 * (pass the transaction of the change). Returns the event id (the `webhook-id` receivers
 * see), or null when no endpoint wants it and nothing was written.
 */
export async function emitEvent(tx: Tx | Db, event: EventInput): Promise<string | null> {
  const endpoints = await tx
    .select({ id: webhookEndpoints.id })
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.tenantId, event.tenantId),
        eq(webhookEndpoints.enabled, true),
        isNull(webhookEndpoints.deletedAt),
        sql`floe_event_type_matches(${webhookEndpoints.eventTypes}, ${event.type})`,
      ),
    );
  if (endpoints.length === 0) return null;
  const eventId = uuidv7();
  const payload: EventPayload = {
    type: event.type,
    timestamp: (event.at ?? new Date()).toISOString(),
    data: event.data,
  };
  await tx.insert(webhookDeliveries).values(
    endpoints.map((e) => ({
      id: uuidv7(),
      eventId,
      endpointId: e.id,
      tenantId: event.tenantId,
      eventType: event.type,
      payload,
    })),
  );
  return eventId;
}
