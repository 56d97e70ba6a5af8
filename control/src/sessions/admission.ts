import { and, eq, inArray, isNull, notInArray, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import type { Db, Tx } from '../db/connect.ts';
import { type apps, clusters, sessionEvents, sessions, tenants, type users } from '../db/schema.ts';
import { TERMINAL_STATES } from '../domain/lifecycle.ts';
import { type ClusterView, place } from '../domain/placement.ts';
import { checkQuota, type Limits, needsMonthlyGpuUsage } from '../domain/quota.ts';
import { ApiError, notFound } from '../http/errors.ts';
import { gpuSecondsSince, startOfMonthUtc } from './usage.ts';

export type SessionRow = typeof sessions.$inferSelect;
type AppRow = typeof apps.$inferSelect;
type UserRow = typeof users.$inferSelect;

export interface LaunchRequest {
  tenantId: string;
  app: AppRow;
  user: UserRow;
  preferredRegion?: string;
  idempotencyKey?: string;
  requestHash?: string;
}

export interface Admission {
  session: SessionRow;
  created: boolean;
}

const active = notInArray(sessions.state, [...TERMINAL_STATES]);

/**
 * Records a launch: counts it against every quota and places it on a cluster, in one
 * transaction. The tenant row is locked first, so launches of one tenant are serialised
 * and no burst can overshoot a quota; launches of different tenants do not wait for
 * each other. Cluster capacity is read without a lock: it is advisory here, and the
 * cluster (its scheduler, or the local runner's limit) has the final word.
 */
export async function admitLaunch(db: Db, req: LaunchRequest): Promise<Admission> {
  return db.transaction(async (tx) => {
    const [tenant] = await tx
      .select({
        maxSessions: tenants.maxSessions,
        maxGpus: tenants.maxGpus,
        gpuHoursPerMonth: tenants.gpuHoursPerMonth,
        allowedRegions: tenants.allowedRegions,
        deletedAt: tenants.deletedAt,
      })
      .from(tenants)
      .where(eq(tenants.id, req.tenantId))
      .for('update');
    if (!tenant || tenant.deletedAt) throw notFound('tenant');

    if (req.idempotencyKey) {
      const [prior] = await tx
        .select()
        .from(sessions)
        .where(
          and(eq(sessions.tenantId, req.tenantId), eq(sessions.idempotencyKey, req.idempotencyKey)),
        );
      if (prior) {
        if (prior.requestHash !== (req.requestHash ?? null)) {
          throw new ApiError(
            422,
            'idempotency_key_reused',
            'this Idempotency-Key was used for a different launch request',
          );
        }
        return { session: prior, created: false };
      }
    }

    const { app, user } = req;
    const gpus = app.gpuSku ? app.gpuCount : 0;
    const limits: Limits = {
      tenant,
      user: { maxSessions: user.maxSessions, maxGpus: user.maxGpus },
    };
    const [held] = await tx
      .select({
        tenantSessions: sql<number>`count(*)::int`,
        tenantGpus: sql<number>`coalesce(sum(${sessions.gpuCount}), 0)::int`,
        userSessions: sql<number>`(count(*) filter (where ${sessions.userId} = ${user.id}))::int`,
        userGpus: sql<number>`coalesce(sum(${sessions.gpuCount}) filter (where ${sessions.userId} = ${user.id}), 0)::int`,
      })
      .from(sessions)
      .where(and(eq(sessions.tenantId, req.tenantId), active));
    const usage = {
      ...(held as NonNullable<typeof held>),
      tenantGpuSecondsThisMonth: needsMonthlyGpuUsage(limits, gpus)
        ? await gpuSecondsSince(tx, req.tenantId, startOfMonthUtc())
        : 0,
    };
    const decision = checkQuota(limits, usage, gpus);
    if (!decision.ok) {
      throw new ApiError(429, 'quota_exceeded', decision.message, { quota: decision.quota });
    }

    const candidates = await clusterViews(tx, gpus > 0);
    const placement = place(
      candidates.filter((c) => (c.driver === 'local' ? app.command !== null : app.image !== null)),
      {
        allowedRegions: tenant.allowedRegions,
        preferredRegion: req.preferredRegion,
        gpuSku: gpus > 0 ? app.gpuSku : null,
        gpuCount: gpus,
      },
    );
    if (!placement.ok) {
      throw placement.reason === 'no_capacity'
        ? new ApiError(503, 'no_capacity', placement.message, {}, { 'Retry-After': '5' })
        : new ApiError(422, 'unplaceable', placement.message);
    }

    const id = uuidv7();
    const [session] = await tx
      .insert(sessions)
      .values({
        id,
        tenantId: req.tenantId,
        userId: user.id,
        appId: app.id,
        clusterId: placement.clusterId,
        state: 'placed',
        gpuSku: gpus > 0 ? app.gpuSku : null,
        gpuCount: gpus,
        idempotencyKey: req.idempotencyKey ?? null,
        requestHash: req.requestHash ?? null,
      })
      .returning();
    await tx.insert(sessionEvents).values([
      { sessionId: id, tenantId: req.tenantId, fromState: null, toState: 'requested' },
      { sessionId: id, tenantId: req.tenantId, fromState: 'requested', toState: 'placed' },
    ]);
    return { session: session as SessionRow, created: true };
  });
}

/** Live clusters with what their active sessions hold; the counting is skipped when no
 * cluster limits sessions and no GPU is asked for, since placement would not use it. */
async function clusterViews(
  tx: Tx,
  needsGpu: boolean,
): Promise<(ClusterView & { driver: string })[]> {
  const rows = await tx.select().from(clusters).where(isNull(clusters.deletedAt));
  const counted = needsGpu || rows.some((c) => c.maxSessions !== null);
  const held = counted
    ? await tx
        .select({
          clusterId: sessions.clusterId,
          gpuSku: sessions.gpuSku,
          sessions: sql<number>`count(*)::int`,
          gpus: sql<number>`coalesce(sum(${sessions.gpuCount}), 0)::int`,
        })
        .from(sessions)
        .where(
          and(
            active,
            inArray(
              sessions.clusterId,
              rows.map((c) => c.id),
            ),
          ),
        )
        .groupBy(sessions.clusterId, sessions.gpuSku)
    : [];
  return rows.map((c) => {
    const mine = held.filter((h) => h.clusterId === c.id);
    return {
      id: c.id,
      name: c.name,
      region: c.region,
      driver: c.driver,
      gpus: c.gpus,
      maxSessions: c.maxSessions,
      activeSessions: mine.reduce((n, h) => n + h.sessions, 0),
      usedGpus: Object.fromEntries(mine.filter((h) => h.gpuSku).map((h) => [h.gpuSku, h.gpus])),
    };
  });
}
