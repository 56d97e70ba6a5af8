import { readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCommand } from '@floe/streamer/sandbox';
import { serve } from '@hono/node-server';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { v7 as uuidv7 } from 'uuid';
import { createApi } from './api.ts';
import { closeDuePeriods } from './billing/auto-close.ts';
import type { Config } from './config.ts';
import { type Database, openDatabase } from './db/connect.ts';
import { type Bus, openBus } from './db/notify.ts';
import { apiKeys, clusters, sessionIsActive, sessions, webhookDeliveries } from './db/schema.ts';
import { KubernetesClusters, loadKubernetes } from './drivers/kubernetes-clusters.ts';
import { LocalDriver, type LocalDriverOptions } from './drivers/local.ts';
import { newToken } from './http/auth.ts';
import { gatewayTokenVerifier } from './http/gateway-token.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { loadSecretKey, SecretBox } from './secrets.ts';
import { enforceGpuHours, type GpuHoursOutcome } from './sessions/gpu-hours.ts';
import { SessionHandoff } from './sessions/handoff.ts';
import { type ClusterDrivers, ClusterOwnership, LOCAL_CLUSTER } from './sessions/ownership.ts';
import { Supervisor } from './sessions/supervisor.ts';
import { SessionWatch } from './sessions/watch.ts';
import type { RetryPolicy } from './webhooks/policy.ts';
import type { TargetPolicy } from './webhooks/target.ts';
import { DeliveryWorker } from './webhooks/worker.ts';

export interface ControlPlane {
  database: Database;
  api: ReturnType<typeof createApi>;
  supervisor: Supervisor;
  /** the drivers of the registered Kubernetes clusters this replica drives */
  kubernetes: KubernetesClusters;
  /** notifications between the replicas (LISTEN/NOTIFY) */
  bus: Bus;
  /** which replica drives which cluster (leases) */
  ownership: ClusterOwnership;
  /** session rows as any replica changes them */
  sessionWatch: SessionWatch;
  /** the platform-admin token generated at first start (null if one existed or was given) */
  bootstrapToken: string | null;
  /** seals and opens secrets at rest (webhook signing secrets among them) */
  secrets: SecretBox;
  metrics: Metrics;
  /** sends the webhook outbox (null when FLOE_WEBHOOK_WORKER=off) */
  webhooks: DeliveryWorker | null;
  /** null unless FLOE_LOCAL_CLUSTER=true */
  localClusterId: string | null;
  /** one GPU-hour quota sweep now (the periodic sweep runs it too) */
  enforceQuotas(now?: Date): Promise<GpuHoursOutcome[]>;
  /** closes the billing periods whose grace is over at `now` (a periodic check does too) */
  closeBillingPeriods(now?: Date): Promise<{ tenants: number; closed: number }>;
  /** ends long-lived responses (progress streams), so that the server can close */
  endStreams(): void;
  close(opts?: { terminateSessions?: boolean }): Promise<void>;
}

/**
 * Settings no environment variable reaches: for tests, which need the local runner's idle
 * check faster than the schema's 60 s minimum allows (a clock and an interval).
 */
export interface ControlPlaneInternals {
  localDriver?: Pick<LocalDriverOptions, 'idle'>;
  /** the session loop's clock (lifetimes, idle timeouts) */
  now?: () => Date;
  /** webhook retries and disabling in seconds rather than hours */
  webhookRetry?: Partial<RetryPolicy>;
  /** cluster leases: their lifetime and renewal (3 s and 1 s) */
  leases?: { ttlMs?: number; renewMs?: number };
}

/**
 * Assembles a control plane: database (migrated), first platform-admin key, the local
 * cluster and its driver, reconciliation of sessions left by an earlier process, and
 * the HTTP API. Serving it is the caller's business (see `listen`).
 */
export async function startControlPlane(
  config: Config,
  log: Logger,
  internals: ControlPlaneInternals = {},
): Promise<ControlPlane> {
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: join(config.FLOE_DATA_DIR, 'pgdata'),
    poolSize: config.FLOE_DB_POOL_SIZE,
    onConnectionError: (err) => log.warn({ err }, 'a database connection was lost'),
  });
  const { db } = database;
  const bus = await openBus(db, { databaseUrl: config.DATABASE_URL, log });
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
    async () => {
      const [row] = await db
        .select({
          pending: sql<number>`count(*)::int`,
          oldest: sql<number>`coalesce(extract(epoch from now() - min(${webhookDeliveries.createdAt})), 0)::float8`,
        })
        .from(webhookDeliveries)
        .where(eq(webhookDeliveries.state, 'pending'));
      return { pending: row?.pending ?? 0, oldestSeconds: row?.oldest ?? 0 };
    },
  );
  // set once the webhook worker exists: transitions recorded before (reconciliation at
  // start) are found by its first look
  let wakeWebhooks = () => {};
  const supervisor = new Supervisor(db, log, {
    now: internals.now,
    onTransition: (to) => {
      metrics.transitions.inc({ to });
      wakeWebhooks();
    },
  });
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

  const local =
    config.FLOE_LOCAL_CLUSTER === 'true'
      ? await registerLocalCluster(config, db, supervisor, internals)
      : null;
  const localClusterId = local?.id ?? null;
  const sessionWatch = new SessionWatch(db, bus, log);
  // each cluster is driven by one replica, the holder of its lease; this one takes its share
  // now (each Kubernetes cluster watched, and its sessions reconciled, as soon as it answers:
  // one that does not answer delays nothing)
  const ownership = new ClusterOwnership({
    db,
    bus,
    log,
    drivers: {
      kubernetes: {
        attach: (row) => kubernetes.connect(row),
        detach: (id) => kubernetes.disconnect(id),
        relabel: (row) => kubernetes.relabel(row),
        // a replica may take a cluster over at any time: the client is loaded beforehand
        prepare: () => void loadKubernetes().catch(() => {}),
      },
      local: local?.drivers,
    },
    observe: (id) => supervisor.capacity(id),
    soleReplica: database.kind === 'pglite',
    ...internals.leases,
  });
  const handoff = new SessionHandoff({ bus, supervisor });
  await ownership.start();

  const enforceQuotas = (now?: Date) =>
    enforceGpuHours(
      { db, supervisor, log, onEvent: (type) => metrics.quotaEvents.inc({ type }) },
      now,
    );
  // a slow quota sweep (many tenants, a database under load) is not started twice at once
  let sweepingQuotas = false;
  const resync = setInterval(() => void supervisor.resync(), config.FLOE_SESSION_RESYNC_MS);
  resync.unref();
  const sweep = setInterval(() => {
    if (sweepingQuotas) return;
    sweepingQuotas = true;
    enforceQuotas()
      .catch((err) => log.error({ err }, 'enforcing GPU-hour quotas failed'))
      .finally(() => {
        sweepingQuotas = false;
      });
  }, config.FLOE_SWEEP_INTERVAL_MS);
  sweep.unref();

  const closeBillingPeriods = (now?: Date) =>
    config.FLOE_BILLING_AUTO_CLOSE_HOURS === 'off'
      ? Promise.resolve({ tenants: 0, closed: 0 })
      : closeDuePeriods(
          {
            db,
            log,
            graceMs: config.FLOE_BILLING_AUTO_CLOSE_HOURS * 3_600_000,
            onClosed: () => {
              metrics.billingPeriodsClosed.inc();
              wakeWebhooks();
            },
          },
          now,
        );
  const billingCheck = setInterval(() => {
    closeBillingPeriods().catch((err) => log.error({ err }, 'closing billing periods failed'));
  }, config.FLOE_BILLING_CLOSE_CHECK_MS);
  billingCheck.unref();

  const gatewayTokens =
    config.FLOE_GATEWAY_JWKS_URL && config.FLOE_GATEWAY_ISSUER
      ? gatewayTokenVerifier({
          jwksUrl: config.FLOE_GATEWAY_JWKS_URL,
          issuer: config.FLOE_GATEWAY_ISSUER,
          onUnavailable: (err) => log.error({ err }, 'the gateways’ JWKS cannot be read'),
        })
      : null;
  const webhookTargets: TargetPolicy = {
    allowPrivate: config.FLOE_WEBHOOK_ALLOW_PRIVATE === 'on',
    deniedCidrs: config.FLOE_WEBHOOK_DENY_CIDRS,
  };
  const webhooks =
    config.FLOE_WEBHOOK_WORKER === 'on'
      ? new DeliveryWorker({
          db: database.background,
          secrets,
          log,
          metrics,
          target: webhookTargets,
          pollMs: config.FLOE_WEBHOOK_POLL_MS,
          retry: internals.webhookRetry,
        })
      : null;
  webhooks?.start();
  if (webhooks) wakeWebhooks = () => webhooks.wake();
  const streams = new AbortController();
  const api = createApi({
    db,
    supervisor,
    metrics,
    log,
    adminToken: config.FLOE_ADMIN_TOKEN,
    gatewayToken: config.FLOE_GATEWAY_TOKEN,
    secrets,
    bus,
    ownership,
    sessionWatch,
    handoff,
    gatewayTokens,
    shutdown: streams.signal,
    insecureIssuers: config.FLOE_DEV_INSECURE_ISSUERS === 'on',
    webhookTargets,
    afterWrite: () => wakeWebhooks(),
    launchRate:
      config.FLOE_LAUNCHES_PER_USER_PER_MINUTE === 'off'
        ? null
        : { perMinute: config.FLOE_LAUNCHES_PER_USER_PER_MINUTE },
  });
  return {
    database,
    api,
    supervisor,
    kubernetes,
    bus,
    ownership,
    sessionWatch,
    bootstrapToken,
    localClusterId,
    enforceQuotas,
    closeBillingPeriods,
    secrets,
    metrics,
    webhooks,
    endStreams: () => streams.abort(),
    async close(opts = {}) {
      streams.abort();
      clearInterval(sweep);
      clearInterval(resync);
      clearInterval(billingCheck);
      await webhooks?.stop();
      // no lease is renewed or taken from here on; given back once the drivers are closed,
      // so that another replica takes over at once (and two drivers never overlap)
      await ownership.stop();
      handoff.close();
      sessionWatch.close();
      await supervisor.close({ terminate: opts.terminateSessions });
      await ownership.release();
      await bus.close();
      await database.close();
    },
  };
}

/**
 * The `local` cluster: sessions as sandboxed processes of this machine (see
 * drivers/local.ts and streamer/src/sandbox.ts). Only where the platform operator turns it on
 * (FLOE_LOCAL_CLUSTER=true): a tenant admin's app command runs on this host.
 */
async function registerLocalCluster(
  config: Config,
  db: Database['db'],
  supervisor: Supervisor,
  internals: ControlPlaneInternals,
): Promise<{ id: string; drivers: ClusterDrivers }> {
  if (!findCommand('bwrap', process.env.PATH ?? '/usr/bin:/bin')) {
    throw new Error(
      'the local cluster runs sessions in bubblewrap: install it (apt-get install bubblewrap) or set FLOE_LOCAL_CLUSTER=false',
    );
  }
  const dataDir = resolve(config.FLOE_DATA_DIR);
  // Floe's own folder (the runner, the example apps), read-only to apps, the data folder hidden
  const floeRoot = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
  const nodeDir = dirname(process.execPath);
  const makeDriver = () =>
    new LocalDriver({
      ...internals.localDriver,
      idle: {
        intervalMs: config.FLOE_LOCAL_IDLE_CHECK_MS,
        ...(internals.now && { now: () => internals.now!().getTime() }),
        ...internals.localDriver?.idle,
      },
      logDir: join(dataDir, 'sessions'),
      maxSessions: config.FLOE_LOCAL_MAX_SESSIONS,
      gpus: config.FLOE_LOCAL_GPUS,
      streaming:
        config.FLOE_LOCAL_STREAMING === 'on'
          ? {
              runner: fileURLToPath(import.meta.resolve('@floe/streamer/session-runner')),
              env: {
                LOG_LEVEL: config.LOG_LEVEL,
                FLOE_SHUTDOWN_WARNING_SECONDS: String(config.FLOE_SHUTDOWN_WARNING_SECONDS),
                // the streamer opens its signalling only with the gateway's viewer token
                ...(config.FLOE_GATEWAY_ISSUER &&
                  config.FLOE_GATEWAY_JWKS_URL && {
                    FLOE_VIEWER_ISSUER: config.FLOE_GATEWAY_ISSUER,
                    FLOE_VIEWER_JWKS_URL: config.FLOE_GATEWAY_JWKS_URL,
                  }),
              },
              turn:
                config.FLOE_TURN_URLS && config.FLOE_TURN_SECRET
                  ? {
                      urls: config.FLOE_TURN_URLS,
                      secret: config.FLOE_TURN_SECRET,
                      maxTtlSeconds: config.FLOE_TURN_TTL_SECONDS,
                    }
                  : null,
            }
          : null,
      sandbox: {
        homesDir: join(dataDir, 'homes'),
        uid: config.FLOE_LOCAL_SESSION_UID,
        readOnly: [floeRoot, ...(nodeDir.startsWith('/usr/') ? [] : [nodeDir])],
        hidden: [dataDir],
        gpuDevices: [
          '/dev/dri',
          ...readdirSync('/dev')
            .filter((name) => name.startsWith('nvidia'))
            .map((name) => `/dev/${name}`),
        ],
      },
    });
  // the first driver reads the capacity, and drives the cluster once this replica holds it
  let spare: LocalDriver | null = makeDriver();
  const capacity = await spare.capacity();
  const [found] = await db
    .select()
    .from(clusters)
    .where(and(eq(clusters.name, LOCAL_CLUSTER), isNull(clusters.deletedAt)));
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
          name: LOCAL_CLUSTER,
          region: config.FLOE_REGION,
          driver: 'local',
          maxSessions: capacity.maxSessions,
          gpus: capacity.gpus,
        })
        .returning();
  const id = (local as { id: string }).id;
  const drivers: ClusterDrivers = {
    async attach() {
      const driver = spare ?? makeDriver();
      spare = null;
      // what an earlier run left is adopted, stopped or failed before the API opens
      await supervisor.attach(id, driver);
      await supervisor.settled();
    },
    detach: () => supervisor.detach(id),
    relabel: () => {},
  };
  return { id, drivers };
}

/** Serves the API; resolves with the bound port once listening. */
/** How long a shutdown waits for requests in flight. */
const CLOSE_GRACE_MS = 5_000;

export function listen(cp: ControlPlane, host: string, port: number) {
  return new Promise<{ port: number; close(): Promise<void> }>((resolve) => {
    const server = serve({ fetch: cp.api.fetch, hostname: host, port }, (info) =>
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((r) => {
            cp.endStreams();
            server.close(() => r());
            // kept-alive idle connections go now; a request still in flight gets a grace
            // period, then its connection is cut (a client that holds one must not hold up
            // a shutdown for the 65 s below)
            (server as Server).closeIdleConnections();
            setTimeout(() => (server as Server).closeAllConnections(), CLOSE_GRACE_MS).unref();
          }),
      }),
    );
    // idle connections are closed by the client, never here: a server that closes one as
    // the client reuses it resets that request (clients idle out at 4 s, load balancers at
    // 60 s; and an event loop held for seconds, by PGlite or an export, fires both at once)
    (server as Server).keepAliveTimeout = 65_000;
  });
}
