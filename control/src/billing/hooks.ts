/**
 * Where billing tells the rest of Floe what happened. The lead wires these after merging:
 * `onPeriodClosed` to the webhook outbox (`billing.period.closed`, issue 16 part 4), and the
 * write routes in routes/billing.ts to the audit log (part 3).
 */
import type { Tx } from '../db/connect.ts';
import type { PeriodRow } from './usage-records.ts';

/**
 * Called inside the transaction that closed `period`, after it froze: a webhook outbox row
 * written with `tx` commits (or rolls back) together with the close. Nothing to do yet.
 */
export async function onPeriodClosed(_tx: Tx, _period: PeriodRow): Promise<void> {}
