import { and, desc, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import { auditDiff } from '../audit/diff.ts';
import type { Db } from '../db/connect.ts';
import { clusters, sessionIsActive, sessions } from '../db/schema.ts';
import { kubeconfigContext, loadKubernetes } from '../drivers/kubernetes-clusters.ts';
import { audit } from '../http/audit.ts';
import { requireRole } from '../http/auth.ts';
import { ApiError, badRequest, conflict, ErrorSchema, notFound } from '../http/errors.ts';
import { afterCursor, pageOf } from '../http/paginate.ts';
import { type ClusterLive, presentCluster } from '../http/present.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { Cluster, ClusterCreate, ClusterPatch, ListQuery, page } from '../http/schemas.ts';
import { isUuid } from '../lookups.ts';
import type { SecretBox } from '../secrets.ts';
import type { LiveCapacity } from '../sessions/admission.ts';
import { uniqueViolation } from './db-errors.ts';

const tags = ['clusters'];
const platformAdmin = [requireRole('platform-admin')];

type ClusterRow = typeof clusters.$inferSelect;

/**
 * The kubeconfig's API server and its text sealed to the cluster, or a 422 saying what is
 * wrong; a 400 naming the field for a file reference or credential plugin (inline only).
 */
async function sealKubeconfig(secrets: SecretBox, clusterId: string, text: string) {
  const { parseKubeconfig } = await loadKubernetes();
  const parsed = parseKubeconfig(text);
  if (!parsed.ok && parsed.refused) throw badRequest(parsed.message);
  if (!parsed.ok) throw new ApiError(422, 'invalid_kubeconfig', parsed.message);
  return {
    apiServer: parsed.server,
    kubeconfigSealed: secrets.seal(text, kubeconfigContext(clusterId)),
  };
}

export function clusterRoutes(deps: {
  db: Db;
  secrets: SecretBox;
  /** what the cluster's driver sees now, on this replica or the one driving it */
  capacityOf: LiveCapacity;
  /**
   * A cluster was registered, changed or deleted: the replica that drives it (this one or
   * another, told by the bus) follows. Awaited so that on a single replica the cluster is
   * driven when the answer comes. Absent: no drivers follow.
   */
  clustersChanged?: () => Promise<void>;
}) {
  const { db, secrets, capacityOf, clustersChanged } = deps;
  const app = router();
  const one = params('cluster');

  /** Each row with what its driver sees now, and what Floe's sessions hold there. */
  async function present(rows: ClusterRow[]) {
    const ids = rows.map((r) => r.id);
    const held =
      ids.length === 0
        ? []
        : await db
            .select({
              clusterId: sessions.clusterId,
              gpuSku: sessions.gpuSku,
              gpus: sql<number>`coalesce(sum(${sessions.gpuCount}), 0)::int`,
            })
            .from(sessions)
            .where(and(sessionIsActive(), inArray(sessions.clusterId, ids)))
            .groupBy(sessions.clusterId, sessions.gpuSku);
    return Promise.all(
      rows.map(async (row) => {
        const capacity = await capacityOf(row.id);
        if (!capacity) return presentCluster(row, null);
        const others = new Map((capacity.heldByOthers ?? []).map((g) => [g.sku, g.count]));
        const live: ClusterLive = {
          status: capacity.status ?? 'connected',
          error: capacity.error ?? null,
          gpus: capacity.gpus.map(({ sku, count }) => {
            const usedByOthers = others.get(sku) ?? 0;
            const usedByFloe = held
              .filter((h) => h.clusterId === row.id && h.gpuSku === sku)
              .reduce((n, h) => n + h.gpus, 0);
            const free = Math.max(0, count - usedByOthers - usedByFloe);
            return { sku, allocatable: count, usedByOthers, usedByFloe, free };
          }),
        };
        return presentCluster(row, live);
      }),
    );
  }
  const presentOne = async (row: ClusterRow) => (await present([row]))[0]!;

  async function load(ref: string) {
    const [row] = await db
      .select()
      .from(clusters)
      .where(
        and(
          isNull(clusters.deletedAt),
          isUuid(ref) ? or(eq(clusters.id, ref), eq(clusters.name, ref)) : eq(clusters.name, ref),
        ),
      );
    if (!row) throw notFound('cluster');
    return row;
  }

  app.openapi(
    apiRoute({
      method: 'post',
      path: '/v1/clusters',
      tags,
      summary: 'Register a cluster (platform-admin)',
      middleware: platformAdmin,
      description:
        'A `kubernetes` cluster is reached with its `kubeconfig` (stored encrypted, never ' +
        'returned): it is watched at once, its GPUs read from its nodes.',
      request: { body: body(ClusterCreate) },
      responses: {
        201: json(Cluster, 'registered'),
        409: json(ErrorSchema, 'name taken'),
        422: json(ErrorSchema, 'the kubeconfig is not usable'),
      },
    }),
    async (c) => {
      const { kubeconfig, ...input } = c.req.valid('json');
      const id = uuidv7();
      const credentials = kubeconfig ? await sealKubeconfig(secrets, id, kubeconfig) : {};
      const row = await db.transaction(async (tx) => {
        const [created] = await tx
          .insert(clusters)
          .values({ id, ...input, ...credentials })
          .returning()
          .catch(uniqueViolation(`cluster "${input.name}" already exists`));
        await audit(c, tx, {
          tenantId: null,
          action: 'cluster.create',
          target: { type: 'cluster', id },
          diff: auditDiff(null, created!),
        });
        return created;
      });
      await clustersChanged?.();
      return c.json(await presentOne(row!), 201);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/clusters',
      tags,
      summary: 'List clusters (platform-admin)',
      middleware: platformAdmin,
      request: { query: ListQuery },
      responses: { 200: json(page(Cluster, 'ClusterPage'), 'clusters') },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const rows = await db
        .select()
        .from(clusters)
        .where(and(isNull(clusters.deletedAt), afterCursor(clusters.id, cursor)))
        .orderBy(desc(clusters.id))
        .limit(limit + 1);
      const page = pageOf(rows, limit, (r) => r);
      return c.json({ ...page, items: await present(page.items) }, 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'get',
      path: '/v1/clusters/{cluster}',
      tags,
      summary: 'Get a cluster by name or id (platform-admin)',
      middleware: platformAdmin,
      request: { params: one },
      responses: { 200: json(Cluster, 'the cluster') },
    }),
    async (c) => c.json(await presentOne(await load(c.req.valid('param').cluster)), 200),
  );

  app.openapi(
    apiRoute({
      method: 'patch',
      path: '/v1/clusters/{cluster}',
      tags,
      summary: 'Change a cluster’s region, credentials, inventory or labels (platform-admin)',
      description:
        'A new `kubeconfig` replaces the stored one; the cluster is reconnected with it.',
      middleware: platformAdmin,
      request: { params: one, body: body(ClusterPatch) },
      responses: {
        200: json(Cluster, 'the cluster'),
        422: json(ErrorSchema, 'the kubeconfig is not usable'),
      },
    }),
    async (c) => {
      const current = await load(c.req.valid('param').cluster);
      const { kubeconfig, ...input } = c.req.valid('json');
      if (kubeconfig !== undefined && current.driver !== 'kubernetes') {
        throw new ApiError(422, 'invalid_kubeconfig', 'only kubernetes clusters take a kubeconfig');
      }
      const credentials = kubeconfig ? await sealKubeconfig(secrets, current.id, kubeconfig) : {};
      const row = await db.transaction(async (tx) => {
        const [updated] = await tx
          .update(clusters)
          .set({ ...input, ...credentials, updatedAt: new Date() })
          .where(eq(clusters.id, current.id))
          .returning();
        await audit(c, tx, {
          tenantId: null,
          action: 'cluster.update',
          target: { type: 'cluster', id: current.id },
          diff: auditDiff(current, updated!),
        });
        return updated;
      });
      await clustersChanged?.();
      return c.json(await presentOne(row!), 200);
    },
  );

  app.openapi(
    apiRoute({
      method: 'delete',
      path: '/v1/clusters/{cluster}',
      tags,
      summary: 'Deregister a cluster with no active sessions (platform-admin)',
      middleware: platformAdmin,
      request: { params: one },
      responses: {
        204: { description: 'deregistered' },
        409: json(ErrorSchema, 'sessions active'),
      },
    }),
    async (c) => {
      const current = await load(c.req.valid('param').cluster);
      const [active] = await db
        .select({ id: sessions.id })
        .from(sessions)
        .where(and(eq(sessions.clusterId, current.id), sessionIsActive()))
        .limit(1);
      if (active) throw conflict('the cluster still runs sessions; stop them first');
      await db.transaction(async (tx) => {
        await tx.update(clusters).set({ deletedAt: new Date() }).where(eq(clusters.id, current.id));
        await audit(c, tx, {
          tenantId: null,
          action: 'cluster.delete',
          target: { type: 'cluster', id: current.id },
          diff: auditDiff(current, null),
        });
      });
      await clustersChanged?.();
      return c.body(null, 204);
    },
  );

  return app;
}
