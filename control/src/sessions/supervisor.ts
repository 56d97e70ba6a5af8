import { and, eq, inArray, isNotNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { type Db, databaseUnavailable } from '../db/connect.ts';
import { apps, sessionIsActive, sessions, tenants, users } from '../db/schema.ts';
import type { Capacity, ClusterDriver, DriverEvent, LaunchSpec } from '../drivers/driver.ts';
import type { SessionRow } from './admission.ts';
import { type TransitionBy, transition } from './transition.ts';

type AppRow = typeof apps.$inferSelect;
/** who a session is for, as its driver needs them */
export interface LaunchParties {
  tenant: Pick<typeof tenants.$inferSelect, 'name' | 'maxGpus'>;
  user: Pick<typeof users.$inferSelect, 'email'>;
}

function launchSpec(session: SessionRow, app: AppRow, parties: LaunchParties): LaunchSpec {
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
    },
  };
}

/** how often recording a transition is tried while the database is unreachable (~1 min) */
const RECORD_ATTEMPTS = 16;

/**
 * Connects the clusters' drivers to the session state machine: it hands admitted
 * sessions to their cluster's driver and records what drivers report, in order per
 * session. At start it reconciles what the database believes with what the drivers see.
 */
export class Supervisor {
  private readonly drivers = new Map<string, { driver: ClusterDriver; unwatch: () => void }>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly watchers = new Map<string, Set<(row: SessionRow) => void>>();
  private readonly db: Db;
  private readonly log: Logger;
  private readonly onTransition: (to: string) => void;
  private closing = false;

  constructor(db: Db, log: Logger, onTransition: (to: string) => void = () => {}) {
    this.db = db;
    this.log = log;
    this.onTransition = onTransition;
  }

  attach(clusterId: string, driver: ClusterDriver) {
    const unwatch = driver.watch((event) => this.record(event));
    this.drivers.set(clusterId, { driver, unwatch });
  }

  /** Stops supervising a cluster (deregistered, or its credentials replaced); sessions stay. */
  async detach(clusterId: string): Promise<void> {
    const attached = this.drivers.get(clusterId);
    if (!attached) return;
    this.drivers.delete(clusterId);
    attached.unwatch();
    await attached.driver.close();
  }

  /** The cluster's capacity as its driver sees it; undefined when no driver is attached. */
  capacity(clusterId: string): Promise<Capacity> | undefined {
    return this.drivers.get(clusterId)?.driver.capacity();
  }

  /** Clusters with a driver in this process. */
  attached(): string[] {
    return [...this.drivers.keys()];
  }

  /** The driver of a cluster in this process, if any (for stops another replica recorded). */
  driverFor(clusterId: string | null): ClusterDriver | undefined {
    return clusterId ? this.drivers.get(clusterId)?.driver : undefined;
  }

  private record(event: DriverEvent) {
    const { sessionId, state, ...details } = event;
    const previous = this.queues.get(sessionId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const row = await this.retryWhileUnavailable(() =>
          transition(this.db, sessionId, state, { ...details, driverRef: details.ref }),
        );
        if (row) {
          this.notify(row);
          this.onTransition(state);
          this.log.info({ sessionId, state, reason: event.reason }, 'session %s', state);
        }
      })
      .catch((err) => this.log.error({ err, sessionId, state }, 'recording a transition failed'))
      .finally(() => {
        if (this.queues.get(sessionId) === next) this.queues.delete(sessionId);
      });
    this.queues.set(sessionId, next);
  }

  /**
   * Runs `op` again, with backoff, while the database cannot be reached (PostgreSQL
   * restarting): what a driver reports during a restart is recorded once it is back, not
   * lost. Gives up after about a minute, or at close.
   */
  private async retryWhileUnavailable<T>(op: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await op();
      } catch (err) {
        if (!databaseUnavailable(err) || attempt >= RECORD_ATTEMPTS || this.closing) throw err;
        this.log.warn({ err, attempt }, 'database unavailable; retrying');
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 5_000)));
      }
    }
  }

  /**
   * Calls `listener` with the session's row after each transition this process records (in
   * order); transitions recorded by another replica are not seen here. Returns the unsubscribe.
   */
  watchSession(sessionId: string, listener: (row: SessionRow) => void): () => void {
    let set = this.watchers.get(sessionId);
    if (!set) {
      set = new Set();
      this.watchers.set(sessionId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.watchers.get(sessionId) === set) this.watchers.delete(sessionId);
    };
  }

  /** How many listeners watch a session (or all sessions). */
  watching(sessionId?: string): number {
    if (sessionId) return this.watchers.get(sessionId)?.size ?? 0;
    let n = 0;
    for (const set of this.watchers.values()) n += set.size;
    return n;
  }

  private notify(row: SessionRow) {
    for (const listener of this.watchers.get(row.id) ?? []) {
      try {
        listener(row);
      } catch (err) {
        this.log.error({ err, sessionId: row.id }, 'a session watcher failed');
      }
    }
  }

  private driverOf(session: SessionRow) {
    return session.clusterId ? this.drivers.get(session.clusterId)?.driver : undefined;
  }

  /** Hands an admitted session to its driver; a driver that cannot take it fails it. */
  async launch(session: SessionRow, app: AppRow, parties: LaunchParties): Promise<void> {
    const driver = this.driverOf(session);
    if (!driver) {
      this.record({ sessionId: session.id, state: 'failed', reason: 'no driver for its cluster' });
      return;
    }
    try {
      await driver.launch(launchSpec(session, app, parties));
    } catch (err) {
      this.log.error({ err, sessionId: session.id }, 'launch failed');
      this.record({ sessionId: session.id, state: 'failed', reason: 'the cluster refused it' });
    }
  }

  /**
   * Moves a session to `stopping` and asks its driver to stop it; `by` is who asked
   * (audited as them), absent for Floe's own stops (maximum lifetime).
   */
  async terminate(
    sessionId: string,
    reason = 'stop requested',
    by?: TransitionBy,
  ): Promise<SessionRow | null> {
    const row = await transition(this.db, sessionId, 'stopping', { reason }, by);
    if (!row) return null;
    this.notify(row);
    this.onTransition('stopping');
    const driver = this.driverOf(row);
    if (driver) await driver.terminate(row.id, row.driverRef);
    else this.record({ sessionId, state: 'stopped', reason: 'its cluster has no driver' });
    return row;
  }

  /**
   * Brings the database and the drivers into agreement after a (re)start, or after a
   * cluster's driver was (re)attached: admitted sessions are launched, starting, running
   * and unknown ones re-attached (or failed when gone), stopping ones stopped; then what the
   * clusters run for no active session is removed. Level-triggered: running it twice
   * changes nothing more.
   */
  async reconcile(clusterIds = [...this.drivers.keys()]): Promise<number> {
    clusterIds = clusterIds.filter((id) => this.drivers.has(id));
    if (clusterIds.length === 0) return 0;
    const rows = await this.db
      .select({ session: sessions, app: apps, tenant: tenants, user: users })
      .from(sessions)
      .innerJoin(apps, eq(apps.id, sessions.appId))
      .innerJoin(tenants, eq(tenants.id, sessions.tenantId))
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(and(inArray(sessions.clusterId, clusterIds), sessionIsActive()));
    for (const { session, app, tenant, user } of rows) {
      const driver = this.driverOf(session) as ClusterDriver;
      switch (session.state) {
        case 'requested':
        case 'placed':
          await this.launch(session, app, { tenant, user });
          break;
        case 'starting':
        case 'running':
        case 'unknown':
          await driver.adopt(
            session.id,
            session.driverRef,
            launchSpec(session, app, { tenant, user }),
          );
          break;
        case 'stopping':
          await driver.terminate(session.id, session.driverRef);
          break;
      }
    }
    for (const id of clusterIds) await this.drivers.get(id)?.driver.removeOrphans?.();
    await this.settled();
    return rows.length;
  }

  /**
   * Stops the running sessions of attached clusters that have outlived their app's
   * maxLifetimeSeconds (counted from the launch). Level-triggered: call it periodically.
   */
  async stopExpired(now = new Date()): Promise<number> {
    const clusterIds = [...this.drivers.keys()];
    if (clusterIds.length === 0) return 0;
    const expired = await this.db
      .select({ id: sessions.id })
      .from(sessions)
      .innerJoin(apps, eq(apps.id, sessions.appId))
      .where(
        and(
          inArray(sessions.clusterId, clusterIds),
          eq(sessions.state, 'running'),
          isNotNull(apps.maxLifetimeSeconds),
          sql`${sessions.createdAt} + make_interval(secs => ${apps.maxLifetimeSeconds}) <= ${now.toISOString()}::timestamptz`,
        ),
      );
    for (const { id } of expired) await this.terminate(id, 'maximum lifetime reached');
    return expired.length;
  }

  /** Resolves once every reported event so far is recorded. */
  async settled(): Promise<void> {
    while (this.queues.size > 0) await Promise.all(this.queues.values());
  }

  async close(opts: { terminate?: boolean } = {}): Promise<void> {
    this.closing = true;
    await Promise.all([...this.drivers.values()].map(({ driver }) => driver.close(opts)));
    await this.settled();
    for (const { unwatch } of this.drivers.values()) unwatch();
    this.drivers.clear();
  }
}
