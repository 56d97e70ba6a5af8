// The transfer policies a launch applies (domain/transfer.ts decides what they add up to).
import { and, eq, isNull } from 'drizzle-orm';
import type { Db, Tx } from '../db/connect.ts';
import { transferPolicies } from '../db/schema.ts';
import type { TransferPolicy } from '../domain/transfer.ts';

/** The tenant's policy (appId null) or an app's own; null when none was set. */
export async function readTransferPolicy(
  db: Db | Tx,
  tenantId: string,
  appId: string | null,
): Promise<TransferPolicy | null> {
  const [row] = await db
    .select({
      clipboard: transferPolicies.clipboard,
      files: transferPolicies.files,
      maxFileBytes: transferPolicies.maxFileBytes,
      maxHomeBytes: transferPolicies.maxHomeBytes,
    })
    .from(transferPolicies)
    .where(
      and(
        eq(transferPolicies.tenantId, tenantId),
        appId === null ? isNull(transferPolicies.appId) : eq(transferPolicies.appId, appId),
      ),
    );
  return row ?? null;
}

/** The tenant's and the app's policy rows, for a launch (null where there is none). */
export async function launchPolicies(db: Db, tenantId: string, appId: string) {
  const [tenant, app] = await Promise.all([
    readTransferPolicy(db, tenantId, null),
    readTransferPolicy(db, tenantId, appId),
  ]);
  return { tenant, app };
}
