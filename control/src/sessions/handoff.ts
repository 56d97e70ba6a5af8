import { and, eq, inArray } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/connect.ts';
import type { Bus, Payload } from '../db/notify.ts';
import { apps, sessions, tenants, users } from '../db/schema.ts';
import type { SessionRow } from './admission.ts';
import type { ClusterOwnership } from './ownership.ts';
import type { LaunchParties, Supervisor } from './supervisor.ts';
import { type TransitionBy, transition } from './transition.ts';

/**
 * how long a replica waits, after hearing of a session admitted or stopped on a cluster it
 * drives, for its own API to say it did that itself (the notification may come first)
 */
const OWN_GRACE_MS = 100;

/**
 * Hands sessions to the replica that drives their cluster, whichever replica admitted or
 * stopped them: the API records what should happen (a session admitted, a stop asked), the
 * bus tells every replica, and the one whose supervisor has the cluster's driver acts
 * (launches, or asks the driver to stop). What this replica's API admitted or stopped on a
 * cluster driven here is acted on at once, and its notification then skipped (no read).
 * After the bus reconnects, the sessions of the clusters driven here that wait for a launch
 * or a stop are acted on again (drivers' launch and terminate are idempotent).
 *
 * The lead's session sync loop replaces the acting: a notification then enqueues
 * `syncSession(id)` on the driving replica.
 */
export class SessionHandoff {
  private readonly deps: {
    db: Db;
    bus: Bus;
    supervisor: Supervisor;
    ownership: Pick<ClusterOwnership, 'drivenElsewhere'>;
    log: Logger;
  };
  private readonly unsubscribe: (() => void)[];
  /** hand-offs under way: closing waits for them, so that no launch starts after it */
  private readonly inFlight = new Set<Promise<void>>();
  private closing = false;
  /** sessions this replica launched or stopped itself, whose notification is not acted on */
  private readonly own = new Set<string>();

  constructor(deps: SessionHandoff['deps']) {
    this.deps = deps;
    this.unsubscribe = [
      deps.bus.subscribe('session', (change) => this.track(this.changed(change))),
      deps.bus.onResync(() => this.track(this.resync())),
    ];
  }

  private track(work: Promise<void>) {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private drivenHere(clusterId: string | null): clusterId is string {
    return clusterId !== null && this.deps.supervisor.attached().includes(clusterId);
  }

  private async changed({ id, clusterId, state }: Payload<'session'>) {
    if (!this.drivenHere(clusterId)) return;
    if (state !== 'placed' && state !== 'requested' && state !== 'stopping') return;
    const key = `${id}:${state}`;
    if (this.own.delete(key)) return;
    await new Promise((r) => setTimeout(r, OWN_GRACE_MS));
    if (this.own.delete(key)) return;
    await this.act([id]).catch((err) =>
      this.deps.log.error({ err, sessionId: id }, 'handing a session to its driver failed'),
    );
  }

  private async resync() {
    this.own.clear(); // their notifications may have been lost: all are acted on below
    const clusterIds = this.deps.supervisor.attached();
    if (clusterIds.length === 0) return;
    const waiting = await this.deps.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(
        and(
          inArray(sessions.clusterId, clusterIds),
          inArray(sessions.state, ['requested', 'placed', 'stopping']),
        ),
      )
      .catch((err) => {
        this.deps.log.error({ err }, 'reading the sessions to hand on failed');
        return [];
      });
    if (waiting.length > 0) {
      await this.act(waiting.map((w) => w.id)).catch((err) =>
        this.deps.log.error({ err }, 'handing sessions to their drivers failed'),
      );
    }
  }

  /** Launches or stops the sessions, as their rows now say (not as the notification did). */
  private async act(ids: string[]) {
    const { db, supervisor } = this.deps;
    const rows = await db
      .select({ session: sessions, app: apps, tenant: tenants, user: users })
      .from(sessions)
      .innerJoin(apps, eq(apps.id, sessions.appId))
      .innerJoin(tenants, eq(tenants.id, sessions.tenantId))
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(inArray(sessions.id, ids));
    for (const { session, app, tenant, user } of rows) {
      if (this.closing || !this.drivenHere(session.clusterId)) continue;
      if (session.state === 'requested' || session.state === 'placed') {
        await supervisor.launch(session, app, { tenant, user });
      } else if (session.state === 'stopping') {
        await supervisor.driverFor(session.clusterId)?.terminate(session.id, session.driverRef);
      }
    }
  }

  /**
   * A session admitted through this replica: launched at once where its cluster is driven
   * here; else the replica that drives it launches it when the bus tells it.
   */
  launch(session: SessionRow, app: typeof apps.$inferSelect, parties: LaunchParties): void {
    if (this.closing || !this.drivenHere(session.clusterId)) return;
    this.own.add(`${session.id}:${session.state}`);
    void this.deps.supervisor.launch(session, app, parties);
  }

  /**
   * A stop asked through this replica: where another replica drives the session's cluster,
   * only recorded (that replica's driver stops it when the bus tells it); else the
   * supervisor's own stop.
   */
  async terminate(
    sessionId: string,
    reason: string,
    by?: TransitionBy,
  ): Promise<SessionRow | null> {
    const [row] = await this.deps.db
      .select({ clusterId: sessions.clusterId })
      .from(sessions)
      .where(eq(sessions.id, sessionId));
    if (row?.clusterId && this.deps.ownership.drivenElsewhere(row.clusterId)) {
      return transition(this.deps.db, sessionId, 'stopping', { reason }, by);
    }
    const key = `${sessionId}:stopping`;
    const drivenHere = this.drivenHere(row?.clusterId ?? null);
    if (drivenHere) this.own.add(key);
    const stopping = await this.deps.supervisor.terminate(sessionId, reason, by).catch((err) => {
      this.own.delete(key);
      throw err;
    });
    if (!stopping) this.own.delete(key); // nothing changed: no notification comes
    return stopping;
  }

  /** Stops handing on; resolves once the hand-offs under way are done. */
  async close(): Promise<void> {
    this.closing = true;
    for (const u of this.unsubscribe) u();
    await Promise.allSettled(this.inFlight);
  }
}
