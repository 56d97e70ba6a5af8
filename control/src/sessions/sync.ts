import { eq, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.ts';
import { apps, sessions, tenants, users } from '../db/schema.ts';
import { isActive } from '../domain/session-states.ts';
import { effectiveTransfer, type TransferPolicy } from '../domain/transfer.ts';
import { type ClusterDriver, LaunchRefused, type LaunchSpec } from '../drivers/driver.ts';
import type { SessionRow } from './admission.ts';
import { nextStep } from './next-step.ts';
import { launchPolicies } from './transfer-policies.ts';
import { transition } from './transition.ts';

type AppRow = typeof apps.$inferSelect;
/** who a session is for, as its driver needs them */
interface LaunchParties {
  tenant: Pick<typeof tenants.$inferSelect, 'name' | 'maxGpus'>;
  user: Pick<typeof users.$inferSelect, 'email'>;
  /** the tenant's and the app's transfer policies (routes/transfer-policy.ts) */
  transfer?: { tenant: TransferPolicy | null; app: TransferPolicy | null };
}

export function launchSpec(session: SessionRow, app: AppRow, parties: LaunchParties): LaunchSpec {
  return {
    sessionId: session.id,
    tenantId: session.tenantId,
    userId: session.userId,
    tenant: { name: parties.tenant.name, maxGpus: parties.tenant.maxGpus },
    user: { email: parties.user.email },
    app: {
      slug: app.slug,
      image: app.image,
      command: app.command,
      env: app.env,
      cpu: app.cpu,
      memory: app.memory,
      gpuSku: session.gpuSku,
      gpuCount: session.gpuCount,
      persistenceSize: app.persistenceSize,
      idleTimeoutSeconds: app.idleTimeoutSeconds,
      maxLifetimeSeconds: app.maxLifetimeSeconds,
      scheduling: app.scheduling ?? null,
      videoCodecs: app.videoCodecs ?? null,
    },
    transfer: effectiveTransfer(parties.transfer?.tenant ?? null, parties.transfer?.app ?? null),
  };
}

/** A session's row with what its launch and its limits need, in one query. */
async function readSession(db: Db, sessionId: string) {
  const [found] = await db
    .select({
      session: sessions,
      app: apps,
      tenant: { name: tenants.name, maxGpus: tenants.maxGpus },
      user: { email: users.email },
      runningAt: sql<string | Date | null>`(select min(e.at) from session_events e
        where e.session_id = ${sessions.id} and e.to_state = 'running')`,
    })
    .from(sessions)
    .innerJoin(apps, eq(apps.id, sessions.appId))
    .innerJoin(tenants, eq(tenants.id, sessions.tenantId))
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(eq(sessions.id, sessionId));
  return found ?? null;
}

export interface SyncContext {
  db: Db;
  log: Logger;
  driver: ClusterDriver;
  now: Date;
  /** told of each transition recorded */
  recorded: (row: SessionRow) => void;
}

/**
 * One turn of the loop for one session of one cluster: read what should be (the row),
 * observe what is (the driver), decide (nextStep), act. Returns when to look again;
 * throws when the step could not be taken (the queue retries with backoff).
 */
export async function syncSession(
  ctx: SyncContext,
  clusterId: string,
  sessionId: string,
): Promise<{ requeueAfterMs?: number } | undefined> {
  const { db, driver } = ctx;
  const read = await readSession(db, sessionId);
  // a session of another cluster is nothing of this one's (and what this one runs for
  // that id is an orphan)
  const found = read?.session.clusterId === clusterId ? read : null;
  const address = {
    sessionId,
    tenantId: found?.session.tenantId ?? null,
    ref: found?.session.driverRef ?? null,
    active: found !== null && isActive(found.session.state),
    idleTimeoutSeconds: found?.app.idleTimeoutSeconds ?? null,
  };
  const seen = driver.observe(address);
  const step = nextStep(
    found && {
      state: found.session.state,
      runningAt: found.runningAt === null ? null : new Date(found.runningAt),
      maxLifetimeSeconds: found.app.maxLifetimeSeconds,
      idleTimeoutSeconds: found.app.idleTimeoutSeconds,
    },
    seen,
    ctx.now,
  );
  const record = async (to: SessionRow['state'], details: Parameters<typeof transition>[3]) => {
    const row = await transition(db, sessionId, to, details);
    if (row) {
      ctx.recorded(row);
      ctx.log.info({ sessionId, state: to, reason: details?.reason }, 'session %s', to);
    }
    // a changed row may need a next step at once (an ended session's cleanup)
    return { requeueAfterMs: 0 };
  };
  switch (step.do) {
    case 'nothing':
      return step.requeueAfterMs === undefined
        ? undefined
        : { requeueAfterMs: step.requeueAfterMs };
    case 'launch': {
      const { session, app, tenant, user } = found as NonNullable<typeof found>;
      try {
        const transfer = await launchPolicies(db, session.tenantId, app.id);
        await driver.launch(launchSpec(session, app, { tenant, user, transfer }));
      } catch (err) {
        if (!(err instanceof LaunchRefused)) throw err;
        return record('failed', { reason: err.message });
      }
      return undefined; // what the cluster makes of it comes through the driver's watch
    }
    case 'record':
      return record(step.to, {
        reason: step.reason,
        exitCode: step.exitCode,
        endpoint: step.endpoint,
        driverRef: step.ref,
      });
    case 'stop':
      return record('stopping', { reason: step.reason });
    case 'terminate':
      await driver.terminate(address);
      return undefined;
  }
}
