/** Where billing tells the rest of Floe what happened: the tenant's webhooks. */
import type { Tx } from '../db/connect.ts';
import { emitEvent } from '../events/outbox.ts';
import type { PeriodRow } from './usage-records.ts';

/**
 * Called inside the transaction that closed `period`, after it froze: the
 * `billing.period.closed` outbox row commits (or rolls back) together with the close.
 */
export async function onPeriodClosed(tx: Tx, period: PeriodRow): Promise<void> {
  await emitEvent(tx, {
    tenantId: period.tenantId,
    type: 'billing.period.closed',
    data: {
      periodId: period.id,
      period: period.label,
      startsAt: period.startsAt.toISOString(),
      endsAt: period.endsAt.toISOString(),
      timeZone: period.timeZone,
      totals: period.totals,
    },
    at: period.closedAt ?? undefined,
  });
}
