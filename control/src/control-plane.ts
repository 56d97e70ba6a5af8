import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { createApi } from './api.ts';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/connect.ts';
import { apiKeys, clusters, sessionIsActive, sessions } from './db/schema.ts';
import { KubernetesClusters } from './drivers/kubernetes-clusters.ts';
import { LocalDriver } from './drivers/local.ts';
import { newToken } from './http/auth.ts';
import { gatewayTokenVerifier } from './http/gateway-token.ts';
import { createMetrics } from './metrics.ts';
import { loadSecretKey, SecretBox } from './secrets.ts';
import { Supervisor } from './sessions/supervisor.ts';

export interface ControlPlane {
  database: Database;
  api: ReturnType<typeof createApi>;
  supervisor: Supervisor;
  /** the drivers of the registered Kubernetes clusters */
  kubernetes: KubernetesClusters;
  /** the platform-admin token generated at first start (null if one existed or was given) */
  bootstrapToken: string | null;
  localClusterId: string;
  /** ends long-lived responses (progress streams), so that the server can close */
  endStreams(): void;
  close(opts?: { terminateSessions?: boolean }): Promise<void>;
}

/**
 * Assembles a control plane: database (migrated), first platform-admin key, the local
 * cluster and its driver, reconciliation of sessions left by an earlier process, and
 * the HTTP API. Serving it is the caller's business (see `listen`).
 */
export async function startControlPlane(config: Config, log: Logger): Promise<ControlPlane> {
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: join(config.FLOE_DATA_DIR, 'pgdata'),
    poolSize: config.FLOE_DB_POOL_SIZE,
    onConnectionError: (err) => log.warn({ err }, 'a database connection was lost'),
  });
  const { db } = database;
  const secrets = new SecretBox(
    loadSecretKey({ secretKey: config.FLOE_SECRET_KEY, dataDir: config.FLOE_DATA_DIR, log }),
  );
  const metrics = createMetrics(
    async () => {
      const rows = await db
        .select({ state: sessions.state, n: sql<number>`count(*)::int` })
        .from(sessions)
        .where(sessionIsActive())
        .groupBy(sessions.state);
      return Object.fromEntries(rows.map((r) => [r.state, r.n]));
    },
    async () => kubernetes.up(),
  );
  const supervisor = new Supervisor(db, log, (to) => metrics.transitions.inc({ to }));
  const kubernetes = new KubernetesClusters({
    supervisor,
    secrets,
    log,
    metrics,
    backoff: { initialMs: 250, maxMs: config.FLOE_KUBE_RETRY_MAX_MS },
  });

  let bootstrapToken: string | null = null;
  if (!config.FLOE_ADMIN_TOKEN) {
    const [existing] = await db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.role, 'platform-admin'), isNull(apiKeys.revokedAt)))
      .limit(1);
    if (!existing) {
      const { token, prefix, hash } = newToken();
      await db.insert(apiKeys).values({
        id: uuidv7(),
        name: 'bootstrap platform admin',
        role: 'platform-admin',
        prefix,
        secretHash: hash,
      });
      bootstrapToken = token;
    }
  }

  const driver = new LocalDriver({
    logDir: join(config.FLOE_DATA_DIR, 'sessions'),
    maxSessions: config.FLOE_LOCAL_MAX_SESSIONS,
    gpus: config.FLOE_LOCAL_GPUS,
    streaming:
      config.FLOE_LOCAL_STREAMING === 'on'
        ? {
            runner: fileURLToPath(import.meta.resolve('@floe/streamer/session-runner')),
            env: {
              FLOE_TURN_URLS: config.FLOE_TURN_URLS,
              ...(config.FLOE_TURN_SECRET && { FLOE_TURN_SECRET: config.FLOE_TURN_SECRET }),
              LOG_LEVEL: config.LOG_LEVEL,
            },
          }
        : null,
  });
  const capacity = await driver.capacity();
  const [found] = await db
    .select()
    .from(clusters)
    .where(and(eq(clusters.name, 'local'), isNull(clusters.deletedAt)));
  const [local] = found
    ? await db
        .update(clusters)
        .set({ maxSessions: capacity.maxSessions, gpus: capacity.gpus, updatedAt: new Date() })
        .where(eq(clusters.id, found.id))
        .returning()
    : await db
        .insert(clusters)
        .values({
          id: uuidv7(),
          name: 'local',
          region: config.FLOE_REGION,
          driver: 'local',
          maxSessions: capacity.maxSessions,
          gpus: capacity.gpus,
        })
        .returning();
  const localClusterId = (local as { id: string }).id;
  supervisor.attach(localClusterId, driver);
  const reconciled = await supervisor.reconcile([localClusterId]);
  if (reconciled > 0) log.info({ sessions: reconciled }, 'reconciled sessions of an earlier run');
  // each Kubernetes cluster is watched, and its sessions reconciled, as soon as it answers;
  // one that does not answer delays nothing
  const registered = await db
    .select()
    .from(clusters)
    .where(and(eq(clusters.driver, 'kubernetes'), isNull(clusters.deletedAt)));
  for (const row of registered) await kubernetes.connect(row);

  const sweep = setInterval(() => {
    supervisor.stopExpired().catch((err) => log.error({ err }, 'stopping expired sessions failed'));
  }, config.FLOE_SWEEP_INTERVAL_MS);
  sweep.unref();

  const gatewayTokens =
    config.FLOE_GATEWAY_JWKS_URL && config.FLOE_GATEWAY_ISSUER
      ? gatewayTokenVerifier({
          jwksUrl: config.FLOE_GATEWAY_JWKS_URL,
          issuer: config.FLOE_GATEWAY_ISSUER,
          onUnavailable: (err) => log.error({ err }, 'the gateways’ JWKS cannot be read'),
        })
      : null;
  const streams = new AbortController();
  const api = createApi({
    db,
    supervisor,
    metrics,
    log,
    adminToken: config.FLOE_ADMIN_TOKEN,
    secrets,
    kubernetes,
    gatewayTokens,
    shutdown: streams.signal,
    insecureIssuers: config.FLOE_DEV_INSECURE_ISSUERS === 'on',
  });
  return {
    database,
    api,
    supervisor,
    kubernetes,
    bootstrapToken,
    localClusterId,
    endStreams: () => streams.abort(),
    async close(opts = {}) {
      streams.abort();
      clearInterval(sweep);
      await supervisor.close({ terminate: opts.terminateSessions });
      await database.close();
    },
  };
}

/** Serves the API; resolves with the bound port once listening. */
export function listen(cp: ControlPlane, host: string, port: number) {
  return new Promise<{ port: number; close(): Promise<void> }>((resolve) => {
    const server = serve({ fetch: cp.api.fetch, hostname: host, port }, (info) =>
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((r) => {
            cp.endStreams();
            server.close(() => r());
          }),
      }),
    );
  });
}
