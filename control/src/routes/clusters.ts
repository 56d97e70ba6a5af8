import { and, desc, eq, isNull, or } from 'drizzle-orm';
import { v7 as uuidv7 } from 'uuid';
import type { Db } from '../db/connect.ts';
import { clusters, sessionIsActive, sessions } from '../db/schema.ts';
import { requireRole } from '../http/auth.ts';
import { conflict, ErrorSchema, notFound } from '../http/errors.ts';
import { afterCursor, pageOf } from '../http/paginate.ts';
import { presentCluster } from '../http/present.ts';
import { apiRoute, body, json, params, router } from '../http/route.ts';
import { Cluster, ClusterCreate, ClusterPatch, ListQuery, page } from '../http/schemas.ts';
import { isUuid } from '../lookups.ts';
import { uniqueViolation } from './db-errors.ts';

const tags = ['clusters'];
const platformAdmin = [requireRole('platform-admin')];

export function clusterRoutes(db: Db) {
  const app = router();
  const one = params('cluster');

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
      request: { body: body(ClusterCreate) },
      responses: { 201: json(Cluster, 'registered'), 409: json(ErrorSchema, 'name taken') },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const [row] = await db
        .insert(clusters)
        .values({ id: uuidv7(), ...input })
        .returning()
        .catch(uniqueViolation(`cluster "${input.name}" already exists`));
      return c.json(presentCluster(row!), 201);
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
      return c.json(pageOf(rows, limit, presentCluster), 200);
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
    async (c) => c.json(presentCluster(await load(c.req.valid('param').cluster)), 200),
  );

  app.openapi(
    apiRoute({
      method: 'patch',
      path: '/v1/clusters/{cluster}',
      tags,
      summary: 'Change a cluster’s region, inventory or labels (platform-admin)',
      middleware: platformAdmin,
      request: { params: one, body: body(ClusterPatch) },
      responses: { 200: json(Cluster, 'the cluster') },
    }),
    async (c) => {
      const current = await load(c.req.valid('param').cluster);
      const [row] = await db
        .update(clusters)
        .set({ ...c.req.valid('json'), updatedAt: new Date() })
        .where(eq(clusters.id, current.id))
        .returning();
      return c.json(presentCluster(row!), 200);
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
      await db.update(clusters).set({ deletedAt: new Date() }).where(eq(clusters.id, current.id));
      return c.body(null, 204);
    },
  );

  return app;
}
