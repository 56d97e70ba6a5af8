import { and, eq, inArray, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { type AuditInput, auditWrites } from '../audit/record.ts';
import { type Db, queryRows, type Tx } from '../db/connect.ts';
import { sessionChanged } from '../db/notify.ts';
import {
  type apps,
  type clusters,
  sessionIsActive,
  sessions,
  type tenants,
  type users,
} from '../db/schema.ts';
import { type ClusterView, eligible, type PlacementRequest, place } from '../domain/placement.ts';
import {
  type QuotaName,
  type QuotaRefusal,
  quotaMessage,
  quotaRetryAfterSeconds,
} from '../domain/quota.ts';
import type { Capacity } from '../drivers/driver.ts';
import { type ChangeWrites, changeArgs, eventRow } from '../events/outbox.ts';
import { sessionEventData } from '../events/session.ts';
import { ApiError, notFound } from '../http/errors.ts';
import type { Lookups } from '../lookups.ts';
import { startOfMonthUtc } from './usage.ts';

export type SessionRow = typeof sessions.$inferSelect;
type AppRow = typeof apps.$inferSelect;
type UserRow = typeof users.$inferSelect;
type TenantRow = typeof tenants.$inferSelect;

export interface LaunchRequest {
  tenant: TenantRow;
  app: AppRow;
  user: UserRow;
  preferredRegion?: string;
  idempotencyKey?: string;
  requestHash?: string;
  /** the caller's audit entry for the session, written with it (and only if admitted) */
  audit?: (session: AdmittedSession) => AuditInput;
}

/** What a launch's audit entry may say of the session before it is admitted. */
export type AdmittedSession = Pick<SessionRow, 'id' | 'userId' | 'appId' | 'clusterId'>;

export interface Admission {
  session: SessionRow;
  created: boolean;
}

interface AdmitResult {
  outcome: 'admitted' | 'replayed' | 'key_reused' | 'quota' | 'no_tenant' | 'no_user' | 'no_app';
  quota: QuotaName | null;
  held: number | null;
  quota_limit: number | null;
  session_id: string | null;
  created_at: string | Date | null;
}

const keyReused = () =>
  new ApiError(
    422,
    'idempotency_key_reused',
    'this Idempotency-Key was used for a different launch request',
  );

/**
 * Records a launch: places it, then counts it against every quota and inserts it in one
 * round trip (floe_admit_session, drizzle/0010_change_writes.sql), under the tenant's row lock:
 * launches of one tenant are serialised and no burst overshoots a quota, while launches
 * of different tenants do not wait for each other. Placement runs first and without a
 * lock: cluster capacity is advisory here, and the cluster has the final word.
 */
export async function admitLaunch(
  db: Db,
  lookups: Lookups,
  capacityOf: LiveCapacity,
  req: LaunchRequest,
): Promise<Admission> {
  const { tenant, app, user } = req;
  if (req.idempotencyKey) {
    const prior = await findByKey(db, tenant.id, req.idempotencyKey);
    if (prior) {
      if (prior.requestHash !== (req.requestHash ?? null)) throw keyReused();
      return { session: prior, created: false };
    }
  }

  const gpus = app.gpuSku ? app.gpuCount : 0;
  const request: PlacementRequest = {
    allowedRegions: tenant.allowedRegions,
    preferredRegion: req.preferredRegion,
    gpuSku: gpus > 0 ? app.gpuSku : null,
    gpuCount: gpus,
  };
  const live = await lookups.clusters();
  const views = await clusterViews(db, live, app, request, capacityOf);
  const placement = place(views, request);
  if (!placement.ok) {
    // a Kubernetes cluster whose GPUs no replica has seen yet (its driving replica is
    // starting, or taking it over from one that died) may be the one: unknown is not never
    const unseen =
      placement.reason === 'unplaceable'
        ? await unseenClusters(live, app, request, capacityOf)
        : [];
    if (placement.reason === 'no_capacity' || unseen.length > 0) {
      const message =
        unseen.length > 0
          ? `the capacity of ${unseen.join(', ')} is not known yet; retry later`
          : placement.message;
      throw new ApiError(503, 'no_capacity', message, {}, { 'Retry-After': '5' });
    }
    throw new ApiError(422, 'unplaceable', placement.message);
  }

  const id = uuidv7();
  const placed = { id, clusterId: placement.clusterId, gpuSku: request.gpuSku, gpuCount: gpus };
  const proposed = sessionRow(req, placed, new Date(0)); // createdAt: stamped by the database
  const writes = launchWrites(proposed, req.audit?.(proposed));
  // One statement, so one transaction without BEGIN and COMMIT: the admission, its
  // session.requested and session.placed events and the caller's audit entry commit
  // together, or (refused) none of them is written.
  const [result] = await queryRows<AdmitResult>(
    db,
    sql`select * from floe_admit_session(${id}, ${tenant.id}, ${user.id}, ${app.id},
    ${placement.clusterId}, ${request.gpuSku}, ${gpus}, ${req.idempotencyKey ?? null},
    ${req.requestHash ?? null}, ${startOfMonthUtc().toISOString()}::timestamptz,
    ${changeArgs(writes)})`,
  );
  return outcome(db, req, result, placed);
}

/** The session an admitted launch records, created at `at`. */
function sessionRow(
  req: LaunchRequest,
  placed: Pick<SessionRow, 'id' | 'clusterId' | 'gpuSku' | 'gpuCount'>,
  at: Date,
): SessionRow {
  return {
    ...placed,
    tenantId: req.tenant.id,
    userId: req.user.id,
    appId: req.app.id,
    state: 'placed',
    reason: null,
    exitCode: null,
    endpoint: null,
    driverRef: null,
    idempotencyKey: req.idempotencyKey ?? null,
    requestHash: req.requestHash ?? null,
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * What an admitted launch writes beside the session: its session.requested and
 * session.placed events and the caller's audit entry. Their time is the admission's
 * (the database's now()), which floe_admit_session stamps into them.
 */
export function launchWrites(session: SessionRow, auditInput?: AuditInput): ChangeWrites {
  const stamp = ['session.createdAt'];
  const requested = eventRow(
    {
      tenantId: session.tenantId,
      type: 'session.requested',
      data: sessionEventData({ ...session, state: 'requested', clusterId: null }, null),
    },
    stamp,
  );
  const placedEvent = eventRow(
    {
      tenantId: session.tenantId,
      type: 'session.placed',
      data: sessionEventData(session, 'requested'),
    },
    stamp,
  );
  const audit = auditInput ? auditWrites(auditInput) : null;
  return {
    events: [requested, placedEvent, ...(audit?.events ?? [])],
    audit: audit?.audit ?? null,
  };
}

/** What floe_admit_session's answer means: the admitted session (with its events), or why not. */
async function outcome(
  db: Db,
  req: LaunchRequest,
  result: AdmitResult | undefined,
  placed: Pick<SessionRow, 'id' | 'clusterId' | 'gpuSku' | 'gpuCount'>,
): Promise<Admission> {
  const { tenant } = req;
  switch (result?.outcome) {
    case 'admitted': {
      const session = sessionRow(req, placed, new Date(result.created_at as string));
      sessionChanged(db, session); // after the commit, to every replica (db/notify.ts says why)
      return { session, created: true };
    }
    case 'replayed': // a concurrent request with the same key won the race
      return { session: (await findByKey(db, tenant.id, req.idempotencyKey!))!, created: false };
    case 'key_reused':
      throw keyReused();
    case 'quota': {
      const quota = result.quota as QuotaName;
      const refusal: QuotaRefusal = {
        quota,
        ...(quota.endsWith('PerSku') && placed.gpuSku && { sku: placed.gpuSku }),
        limit: Number(result.quota_limit),
        used: Number(result.held),
      };
      const retryAfter = String(quotaRetryAfterSeconds(quota, new Date()));
      throw new ApiError(429, 'quota_exceeded', quotaMessage(refusal), refusal, {
        'Retry-After': retryAfter,
      });
    }
    case 'no_user': // deleted since the request read it
      throw notFound('user');
    case 'no_app':
      throw notFound('app');
    default:
      throw notFound('tenant');
  }
}

/**
 * Takes the lock admission takes (the tenant's row, floe_admit_session), for a change that
 * must not interleave with launches: deleting the tenant, one of its users or apps. Once
 * it is held, every launch admitted before is visible and every later one sees the change.
 */
export async function lockTenant(tx: Tx, tenantId: string): Promise<void> {
  await tx.execute(sql`select 1 from tenants where id = ${tenantId} for update`);
}

async function findByKey(db: Db | Tx, tenantId: string, key: string) {
  const [row] = await db
    .select()
    .from(sessions)
    .where(and(eq(sessions.tenantId, tenantId), eq(sessions.idempotencyKey, key)));
  return row;
}

/** What a cluster's driver sees of it now; undefined: no driver attached in this process. */
export type LiveCapacity = (clusterId: string) => Promise<Capacity> | undefined;

/**
 * The Kubernetes clusters in the allowed regions whose GPUs nobody knows yet: no replica
 * reports them, or their driver has not listed the nodes of a cluster it connects to.
 */
async function unseenClusters(
  live: (typeof clusters.$inferSelect)[],
  app: AppRow,
  req: PlacementRequest,
  capacityOf: LiveCapacity,
): Promise<string[]> {
  const candidates = live.filter(
    (c) =>
      c.driver === 'kubernetes' &&
      app.image !== null &&
      (req.allowedRegions.length === 0 || req.allowedRegions.includes(c.region)),
  );
  const seen = await Promise.all(candidates.map((c) => capacityOf(c.id)));
  const unknown = (cap: Capacity | undefined) =>
    cap === undefined || (cap.status !== 'connected' && cap.gpus.length === 0);
  return candidates.filter((_, i) => unknown(seen[i])).map((c) => c.name);
}

/**
 * Live clusters that could run the app (its driver can run it: a command for `local`, an
 * image for `kubernetes`), with what their active sessions hold. A cluster whose driver
 * watches it (Kubernetes) brings its GPUs as they are now, and what workloads outside Floe
 * hold of them; a cluster without a driver in this process takes no session. The counting
 * is skipped when no such cluster limits sessions and no GPU is asked, as placement would
 * not use it.
 */
async function clusterViews(
  db: Db,
  live: (typeof clusters.$inferSelect)[],
  app: AppRow,
  req: PlacementRequest,
  capacityOf: LiveCapacity,
): Promise<ClusterView[]> {
  const runnable = live.filter((c) =>
    c.driver === 'local' ? app.command !== null : app.image !== null,
  );
  const seen = await Promise.all(runnable.map((c) => capacityOf(c.id)));
  const views = runnable.map((c, i): ClusterView & { heldByOthers: Capacity['heldByOthers'] } => {
    const capacity = seen[i];
    const watched = capacity?.status !== undefined;
    return {
      id: c.id,
      name: c.name,
      region: c.region,
      reachable: capacity !== undefined && (capacity.status ?? 'connected') === 'connected',
      gpus: watched ? capacity.gpus : c.gpus,
      maxSessions: c.maxSessions,
      activeSessions: 0,
      usedGpus: {},
      heldByOthers: watched ? capacity.heldByOthers : [],
    };
  });
  const counted = eligible(views, req).filter(
    (c) => c.reachable && (c.maxSessions !== null || req.gpuCount > 0),
  );
  const held =
    counted.length === 0
      ? []
      : await db
          .select({
            clusterId: sessions.clusterId,
            gpuSku: sessions.gpuSku,
            sessions: sql<number>`count(*)::int`,
            gpus: sql<number>`coalesce(sum(${sessions.gpuCount}), 0)::int`,
          })
          .from(sessions)
          .where(
            and(
              sessionIsActive(),
              inArray(
                sessions.clusterId,
                counted.map((c) => c.id),
              ),
            ),
          )
          .groupBy(sessions.clusterId, sessions.gpuSku);
  return views.map(({ heldByOthers, ...view }) => {
    const mine = held.filter((h) => h.clusterId === view.id);
    const usedGpus: Record<string, number> = {};
    for (const h of mine) if (h.gpuSku) usedGpus[h.gpuSku] = (usedGpus[h.gpuSku] ?? 0) + h.gpus;
    for (const o of heldByOthers ?? []) usedGpus[o.sku] = (usedGpus[o.sku] ?? 0) + o.count;
    return { ...view, activeSessions: mine.reduce((n, h) => n + h.sessions, 0), usedGpus };
  });
}
