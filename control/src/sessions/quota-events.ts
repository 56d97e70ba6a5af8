import type { Tx } from '../db/connect.ts';
import { type QuotaEventType, quotaEvents } from '../db/schema.ts';
import { emitEvent } from '../events/outbox.ts';

export interface QuotaEvent {
  tenantId: string;
  type: QuotaEventType;
  /** which quota, e.g. tenant.gpuHoursPerMonth */
  quota: string;
  /** the start of the period the event belongs to: each type is recorded once per period */
  periodStart: Date;
  data: Record<string, unknown>;
}

/**
 * THE hook point for quota events (`quota.warning`, `quota.exceeded`): every one goes through
 * here, inside the caller's transaction. It records the event in `quota_events`, at most
 * once per tenant, type, quota and period (a unique index: two replicas sweeping together
 * record it once), and says whether this call recorded it. Only then is the webhook outbox row
 * written, in the same transaction, so that an event is delivered once and never for a change
 * that rolled back. Logging and the
 * floe_quota_events_total counter happen after the commit (sessions/gpu-hours.ts).
 */
export async function onQuotaEvent(tx: Tx, event: QuotaEvent): Promise<{ recorded: boolean }> {
  const rows = await tx
    .insert(quotaEvents)
    .values({
      tenantId: event.tenantId,
      type: event.type,
      quota: event.quota,
      periodStart: event.periodStart,
      data: event.data,
    })
    .onConflictDoNothing()
    .returning({ id: quotaEvents.id, at: quotaEvents.at });
  const recorded = rows[0];
  if (!recorded) return { recorded: false };
  await emitEvent(tx, {
    tenantId: event.tenantId,
    type: event.type,
    data: { quota: event.quota, periodStart: event.periodStart.toISOString(), ...event.data },
    at: recorded.at,
  });
  return { recorded: true };
}
