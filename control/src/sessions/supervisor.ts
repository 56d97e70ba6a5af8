import { runWorkers, WorkQueue } from '@floe/kube/queue';
import { and, eq, inArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.ts';
import { sessionIsActive, sessions } from '../db/schema.ts';
import { STOP_REASONS } from '../domain/stop-reasons.ts';
import type { Capacity, ClusterDriver } from '../drivers/driver.ts';
import type { SessionRow } from './admission.ts';
import { syncSession } from './sync.ts';
import { type TransitionBy, transition } from './transition.ts';

export interface SupervisorOptions {
  /** told of each transition this process records (metrics, the webhook worker) */
  onTransition?: (to: string) => void;
  /** how many sessions are synced at once */
  workers?: number;
  /** the clock of lifetimes and idle timeouts (injectable for tests) */
  now?: () => Date;
}

const SHUTDOWN_REASON = STOP_REASONS.platform;

/**
 * Runs the session sync loop of the clusters attached here, in the manner of
 * controller-runtime: one work queue keyed by (cluster, session), whose worker reads the
 * session's row and its driver's observation, takes the one step `nextStep` decides, and
 * requeues. Whatever may change a session — a launch admitted, a stop asked, a driver's
 * watch, the cluster's return, a periodic resync — only adds its key to the queue, so
 * each session is handled by one worker at a time and every path ends in the same code.
 */
export class Supervisor {
  private readonly drivers = new Map<string, { driver: ClusterDriver; unwatch: () => void }>();
  private readonly queue = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 5_000 });
  private readonly workers: { stop(): Promise<void> };
  private inFlight = 0;
  private readonly db: Db;
  private readonly log: Logger;
  private readonly onTransition: (to: string) => void;
  private readonly now: () => Date;

  constructor(db: Db, log: Logger, opts: SupervisorOptions = {}) {
    this.db = db;
    this.log = log;
    this.onTransition = opts.onTransition ?? (() => {});
    this.now = opts.now ?? (() => new Date());
    this.workers = runWorkers(
      this.queue,
      opts.workers ?? 8,
      (key) => this.sync(key),
      (key, err, retryInMs) =>
        this.log.warn({ err, key, retryInMs }, 'syncing a session failed; retrying'),
    );
  }

  /**
   * Supervises a cluster's sessions through its driver, starting with all of them;
   * resolves once they are queued.
   */
  attach(clusterId: string, driver: ClusterDriver): Promise<void> {
    const unwatch = driver.onChange((sessionId) =>
      sessionId ? this.enqueue(clusterId, sessionId) : void this.enqueueCluster(clusterId),
    );
    this.drivers.set(clusterId, { driver, unwatch });
    return this.enqueueCluster(clusterId);
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

  /** The driver of a cluster in this process, if any. */
  driverFor(clusterId: string): ClusterDriver | undefined {
    return this.drivers.get(clusterId)?.driver;
  }

  /** A session of an attached cluster may need a step (admitted, stop asked, …). */
  enqueue(clusterId: string, sessionId: string) {
    if (this.drivers.has(clusterId)) this.queue.add(`${clusterId}/${sessionId}`);
  }

  /** Every session of the cluster: its active ones, and whatever the cluster runs. */
  private async enqueueCluster(clusterId: string): Promise<void> {
    const driver = this.drivers.get(clusterId)?.driver;
    if (!driver) return;
    try {
      const active = await this.db
        .select({ id: sessions.id })
        .from(sessions)
        .where(and(eq(sessions.clusterId, clusterId), sessionIsActive()));
      for (const { id } of active) this.enqueue(clusterId, id);
      for (const id of driver.present() ?? []) this.enqueue(clusterId, id);
    } catch (err) {
      this.log.warn(
        { err, clusterId },
        'listing a cluster’s sessions failed; the next resync retries',
      );
    }
  }

  /**
   * Looks at every session of every attached cluster again (level-triggered: what an
   * event missed, another replica's stop). Call it periodically.
   */
  async resync(): Promise<void> {
    await Promise.all([...this.drivers.keys()].map((id) => this.enqueueCluster(id)));
  }

  private async sync(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const slash = key.indexOf('/');
    const clusterId = key.slice(0, slash);
    const driver = this.drivers.get(clusterId)?.driver;
    if (!driver) return undefined; // detached meanwhile
    this.inFlight++;
    try {
      return await syncSession(
        {
          db: this.db,
          log: this.log,
          driver,
          now: this.now(),
          recorded: (row) => this.recorded(row),
        },
        clusterId,
        key.slice(slash + 1),
      );
    } finally {
      this.inFlight--;
    }
  }

  private recorded(row: SessionRow) {
    this.onTransition(row.state);
  }

  /** An admitted session: its cluster's driver is asked to run it. */
  admitted(session: SessionRow) {
    if (session.clusterId) this.enqueue(session.clusterId, session.id);
  }

  /**
   * Moves a session to `stopping`, and its cluster is asked to stop it; `by` is who asked
   * (audited as them), absent for Floe's own stops (the GPU-hour quota).
   */
  async terminate(
    sessionId: string,
    reason = 'stop requested',
    by?: TransitionBy,
  ): Promise<SessionRow | null> {
    const row = await transition(this.db, sessionId, 'stopping', { reason }, by);
    if (!row) return null;
    this.recorded(row);
    if (row.clusterId) this.enqueue(row.clusterId, row.id);
    return row;
  }

  /** Resolves once no session is queued or being synced (later, timed requeues aside). */
  async settled(): Promise<void> {
    while (this.queue.depth > 0 || this.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
  }

  /**
   * Stops the loop and the drivers. With `terminate`, the attached clusters' sessions are
   * stopped first (the embedded platform's own sessions end with it), within `graceMs`.
   */
  async close(opts: { terminate?: boolean; graceMs?: number } = {}): Promise<void> {
    if (opts.terminate) await this.stopAll(opts.graceMs ?? 15_000);
    await this.workers.stop();
    this.queue.shutDown();
    await Promise.all(
      [...this.drivers.values()].map(async ({ driver, unwatch }) => {
        unwatch();
        await driver.close(opts);
      }),
    );
    this.drivers.clear();
  }

  private async stopAll(graceMs: number) {
    const clusterIds = this.attached();
    if (clusterIds.length === 0) return;
    const active = () =>
      this.db
        .select({ id: sessions.id })
        .from(sessions)
        .where(and(inArray(sessions.clusterId, clusterIds), sessionIsActive()));
    try {
      for (const { id } of await active()) await this.terminate(id, SHUTDOWN_REASON);
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && (await active()).length > 0) {
        await new Promise((r) => setTimeout(r, 50));
      }
    } catch (err) {
      this.log.warn({ err }, 'stopping the sessions at shutdown failed');
    }
  }
}
