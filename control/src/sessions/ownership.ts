import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { isNull, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import { type Db, queryRows } from '../db/connect.ts';
import type { Bus } from '../db/notify.ts';
import { clusters } from '../db/schema.ts';
import {
  type ClusterView,
  type Driven,
  type LeaseView,
  planDrivers,
  planLeases,
  type ReplicaView,
} from '../domain/ownership.ts';
import type { Capacity } from '../drivers/driver.ts';

type ClusterRow = typeof clusters.$inferSelect;

/** Starts and stops the driver of one kind of cluster on this replica. */
export interface ClusterDrivers {
  /** Drives the cluster: its driver attached to the supervisor, its sessions reconciled. */
  attach(row: ClusterRow): Promise<void>;
  detach(clusterId: string): Promise<void>;
  /** Only its labels changed: later launches use them. */
  relabel(row: ClusterRow): void;
  /**
   * Such clusters are registered: get ready to drive one (load what attaching needs), so
   * that taking one over is not slowed by it.
   */
  prepare?(): void;
}

export interface OwnershipOptions {
  db: Db;
  bus: Bus;
  log: Logger;
  drivers: { kubernetes: ClusterDrivers; local?: ClusterDrivers };
  /** what this replica's driver of a cluster sees of it now (Supervisor.capacity) */
  observe(clusterId: string): Promise<Capacity> | undefined;
  /** how long a lease (and this replica's presence) lasts unless renewed */
  ttlMs?: number;
  /** how often they are renewed */
  renewMs?: number;
  /**
   * PGlite: this is the only process on the database (its folder is locked), so the leases
   * an earlier process left are taken at once rather than after they expire.
   */
  soleReplica?: boolean;
  /** a fixed id (tests); by default host, pid and a random part */
  id?: string;
}

/**
 * The processes whose pids this one can check (same kernel boot, same pid namespace), as a
 * short hash; null where /proc does not tell.
 */
function processScope(): string | null {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return createHash('sha256')
      .update(`${boot}/${readlinkSync('/proc/self/ns/pid')}`)
      .digest('hex')
      .slice(0, 8);
  } catch {
    return null;
  }
}

/** Replica ids: `<host>:<scope>:<pid>:<random>`. */
function replicaId(scope: string | null) {
  return `${hostname()}:${scope ?? '-'}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * Holders that are processes of this machine that no longer exist (killed, crashed): their
 * leases need not be waited out. Only pids of this process's scope can be checked.
 */
export function deadHolders(holders: Iterable<string>, scope: string | null): Set<string> {
  const dead = new Set<string>();
  if (scope === null) return dead;
  for (const holder of holders) {
    const parts = holder.split(':');
    const pid = Number(parts.at(-2));
    if (parts.at(-3) !== scope || !Number.isInteger(pid) || pid === process.pid) continue;
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') dead.add(holder);
    }
  }
  return dead;
}

/** the name of the cluster of FLOE_LOCAL_CLUSTER (control-plane.ts registers it) */
export const LOCAL_CLUSTER = 'local';

const DEFAULT_TTL_MS = 3_000;
const DEFAULT_RENEW_MS = 1_000;
// a holder stops driving this much before its lease can expire by the database's clock,
// for the time a renewal takes to come back (and clocks that run a little apart)
const FENCE_MARGIN_MS = 500;

/**
 * Each cluster's driver runs on exactly one control-plane replica: the holder of the
 * cluster's lease (table cluster_leases). Every `renewMs` (and at once when a cluster or a
 * lease changes, told by the bus) a replica renews its presence and its leases, takes those
 * it should hold that are free or expired, gives back those another replica should hold
 * (domain/ownership.ts decides), and attaches or detaches drivers to match. A replica that
 * cannot renew stops driving before its leases can expire; one that dies (SIGKILL) stops
 * renewing, and another takes its clusters over within ttl + renew and reconciles them.
 *
 * A lease row rather than an advisory lock: an advisory lock lives as long as its
 * connection, which a network partition can keep half-open for minutes (so takeover time is
 * unbounded), it has no fencing token, and it does not survive a transaction-pooling
 * PgBouncer. A row with an expiry by the database's clock bounds takeover to its TTL, counts
 * holders with a token, and can be read by anyone (`select * from cluster_leases`).
 */
export class ClusterOwnership {
  readonly id: string;
  private readonly scope = processScope();
  private readonly opts: OwnershipOptions;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly local: boolean;
  /** clusters this replica drives, as attached */
  private readonly driving = new Map<string, Driven & { driver: 'local' | 'kubernetes' }>();
  /** who holds each live lease, as last read (and changed by this replica since) */
  private holders = new Map<string, string>();
  /** what the other replicas' drivers see of the clusters they drive, as last read */
  private observedElsewhere = new Map<string, Capacity>();
  /** what was last written of each cluster driven here */
  private readonly written = new Map<string, string>();
  private renewedAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  /** attaching and detaching, one at a time, apart from the ticks (which must renew) */
  private work: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(opts: OwnershipOptions) {
    this.opts = opts;
    this.id = opts.id ?? replicaId(this.scope);
    this.ttlMs = opts.ttlMs ?? DEFAULT_TTL_MS;
    this.renewMs = opts.renewMs ?? DEFAULT_RENEW_MS;
    this.local = opts.drivers.local !== undefined;
  }

  /** Takes this replica's share of the clusters (drivers attached and reconciled), then keeps it. */
  async start(): Promise<void> {
    if (this.opts.soleReplica) {
      await this.opts.db.execute(
        sql`update cluster_leases set expires_at = now() - interval '1 millisecond' where holder <> ${this.id}`,
      );
      await this.opts.db.execute(sql`delete from control_replicas where id <> ${this.id}`);
    }
    // a change of a cluster or of a lease, or missed ones: look again at once
    this.unsubscribe.push(
      this.opts.bus.subscribe('cluster', () => void this.sync().catch(() => {})),
      this.opts.bus.onResync(() => void this.sync().catch(() => {})),
    );
    await this.sync();
    this.timer = setInterval(() => {
      // a round that hangs (a database cut off without a reset) renews nothing either
      this.fenceIfStale();
      void this.sync().catch(() => {});
    }, this.renewMs);
    this.timer.unref();
  }

  /** One round now; resolves once the drivers it attaches or detaches are. */
  sync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (!this.queued) {
      const round = this.chain.then(() => {
        this.queued = null;
        return this.round();
      });
      this.queued = round;
      this.chain = round.catch(() => {});
    }
    return this.queued.then(() => this.work);
  }

  /** The replica driving the cluster as last seen (null: none), this one included. */
  holder(clusterId: string): string | null {
    return this.holders.get(clusterId) ?? null;
  }

  /** Whether another live replica drives the cluster: its sessions are its business. */
  drivenElsewhere(clusterId: string): boolean {
    const holder = this.holder(clusterId);
    return holder !== null && holder !== this.id;
  }

  /**
   * What the driver of a cluster driven by another replica sees of it (as that replica
   * wrote it with its lease, at most a round old); undefined when none drives it elsewhere.
   */
  observed(clusterId: string): Promise<Capacity> | undefined {
    const observed = this.drivenElsewhere(clusterId) && this.observedElsewhere.get(clusterId);
    return observed ? Promise.resolve(observed) : undefined;
  }

  /** Clusters this replica drives. */
  drives(): string[] {
    return [...this.driving.keys()];
  }

  private async round() {
    const { db, log } = this.opts;
    const started = Date.now();
    try {
      const ttl = sql`now() + ${this.ttlMs} * interval '1 millisecond'`;
      await db.execute(
        sql`insert into control_replicas (id, local, expires_at) values (${this.id}, ${this.local}, ${ttl})
            on conflict (id) do update set expires_at = excluded.expires_at`,
      );
      const [replicas, rows, leases] = await Promise.all([
        queryRows<ReplicaView>(
          db,
          sql`select id, local from control_replicas where expires_at > now()`,
        ),
        db.select().from(clusters).where(isNull(clusters.deletedAt)),
        queryRows<{
          cluster_id: string;
          holder: string;
          token: string;
          live: boolean;
          observed: Capacity | null;
        }>(
          db,
          sql`select cluster_id, holder, token::text, expires_at > now() as live, observed
              from cluster_leases`,
        ),
      ]);
      if (rows.some((r) => r.driver === 'kubernetes' && r.kubeconfigSealed !== null)) {
        this.opts.drivers.kubernetes.prepare?.();
      }
      const views: ClusterView[] = rows.map((r) => ({
        id: r.id,
        driver: r.driver,
        drivable: r.driver === 'local' ? r.name === LOCAL_CLUSTER : r.kubeconfigSealed !== null,
      }));
      const leaseViews: LeaseView[] = leases.map((l) => ({
        clusterId: l.cluster_id,
        holder: l.holder,
        token: Number(l.token),
        live: l.live,
      }));
      const dead = deadHolders(new Set(leaseViews.map((l) => l.holder)), this.scope);
      const plan = planLeases({
        me: this.id,
        replicas,
        clusters: views,
        leases: leaseViews,
        dead,
      });
      const held = new Map<string, number>();
      if (plan.renew.length > 0) {
        const renewed = await queryRows<{ cluster_id: string; token: string }>(
          db,
          sql`update cluster_leases set expires_at = ${ttl}
              where holder = ${this.id} and expires_at > now()
                and cluster_id in (${sql.join(
                  plan.renew.map((id) => sql`${id}::uuid`),
                  sql`, `,
                )})
              returning cluster_id, token::text`,
        );
        for (const r of renewed) held.set(r.cluster_id, Number(r.token));
      }
      for (const clusterId of plan.acquire) {
        const [taken] = await queryRows<{ token: string }>(
          db,
          sql`insert into cluster_leases (cluster_id, holder, token, expires_at)
              values (${clusterId}, ${this.id}, 1, ${ttl})
              on conflict (cluster_id) do update
                set holder = excluded.holder, token = cluster_leases.token + 1,
                    expires_at = excluded.expires_at
                where cluster_leases.expires_at <= now()
                  or cluster_leases.holder in (${sql.join(
                    [...dead, this.id].map((h) => sql`${h}`),
                    sql`, `,
                  )})
              returning token::text`,
        );
        if (taken) held.set(clusterId, Number(taken.token));
      }
      this.renewedAt = started;
      this.holders = new Map(
        leaseViews.filter((l) => l.live && !dead.has(l.holder)).map((l) => [l.clusterId, l.holder]),
      );
      this.observedElsewhere = new Map(
        leases
          .filter((l) => l.live && l.holder !== this.id && l.observed)
          .map((l) => [l.cluster_id, l.observed as Capacity]),
      );
      for (const id of plan.release) this.holders.delete(id);
      for (const id of held.keys()) this.holders.set(id, this.id);
      this.apply(
        held,
        new Map(rows.map((r) => [r.id, r])),
        plan.release.filter((id) => !held.has(id)),
      );
      await this.publishObserved(held);
    } catch (err) {
      if (!this.fenceIfStale(err)) log.warn({ err }, 'renewing cluster leases failed');
    }
  }

  /**
   * PostgreSQL unreachable: keeps driving only while no other replica can have taken over
   * (the leases were last renewed less than their lifetime, less a margin, ago).
   */
  private fenceIfStale(err?: unknown): boolean {
    if (this.driving.size === 0 || Date.now() - this.renewedAt <= this.ttlMs - FENCE_MARGIN_MS) {
      return false;
    }
    this.opts.log.warn({ err }, 'leases cannot be renewed; no longer driving any cluster');
    this.apply(new Map(), new Map(), []);
    return true;
  }

  /** Writes what the drivers here see of their clusters, where it changed, for the others. */
  private async publishObserved(held: Map<string, number>) {
    for (const id of [...this.written.keys()]) if (!held.has(id)) this.written.delete(id);
    for (const [id, token] of held) await this.publishOne(id, token);
  }

  private async publishOne(id: string, token: number) {
    const capacity = await this.opts.observe(id)?.catch(() => undefined);
    if (!capacity) return;
    const text = JSON.stringify(capacity);
    if (this.written.get(id) === text) return;
    await this.opts.db.execute(
      sql`update cluster_leases set observed = ${text}::jsonb
          where cluster_id = ${id} and holder = ${this.id} and token = ${token}`,
    );
    this.written.set(id, text);
  }

  /** Attaches and detaches drivers (in the background: ticks go on renewing meanwhile). */
  private apply(held: Map<string, number>, rows: Map<string, ClusterRow>, release: string[]) {
    const plan = planDrivers({
      held,
      driving: this.driving,
      rows: new Map(
        [...rows].map(([id, r]) => [id, { credentials: r.kubeconfigSealed, labels: r.labels }]),
      ),
    });
    const { log } = this.opts;
    const driversOf = (kind: 'local' | 'kubernetes') =>
      kind === 'local' ? this.opts.drivers.local : this.opts.drivers.kubernetes;
    const queue = (what: string, clusterId: string, op: () => Promise<void>) => {
      this.work = this.work
        .then(op)
        .catch((err) => log.error({ err, clusterId }, `${what} failed`));
    };
    for (const id of [...plan.detach, ...plan.reattach]) {
      const current = this.driving.get(id);
      this.driving.delete(id);
      if (current)
        queue(
          'detaching a cluster',
          id,
          () => driversOf(current.driver)?.detach(id) ?? Promise.resolve(),
        );
    }
    for (const id of [...plan.attach, ...plan.reattach]) {
      const row = rows.get(id) as ClusterRow;
      const drivers = driversOf(row.driver);
      this.driving.set(id, {
        token: held.get(id) as number,
        credentials: row.kubeconfigSealed,
        labels: row.labels,
        driver: row.driver,
      });
      queue('attaching a cluster', id, async () => {
        if (!drivers || this.driving.get(id)?.token !== held.get(id)) return;
        const since = Date.now();
        await drivers.attach(row);
        // what it sees, for the other replicas' admissions, without waiting for a round
        await this.publishOne(id, held.get(id) as number).catch(() => {});
        log.info(
          {
            cluster: row.name,
            clusterId: id,
            token: held.get(id),
            reconciledMs: Date.now() - since,
          },
          'driving cluster %s',
          row.name,
        );
      });
    }
    for (const id of plan.relabel) {
      const row = rows.get(id) as ClusterRow;
      const current = this.driving.get(id);
      if (current) current.labels = row.labels;
      driversOf(row.driver)?.relabel(row);
    }
    // given back only once its driver here is stopped: two drivers never overlap
    if (release.length > 0) {
      const ids = release;
      this.work = this.work
        .then(() =>
          this.opts.db.execute(
            sql`update cluster_leases set expires_at = now() - interval '1 millisecond'
                where holder = ${this.id} and cluster_id in (${sql.join(
                  ids.map((id) => sql`${id}::uuid`),
                  sql`, `,
                )})`,
          ),
        )
        .then(
          () => log.info({ clusters: ids }, 'gave back cluster leases'),
          (err) => log.warn({ err }, 'giving back cluster leases failed (they expire)'),
        );
    }
  }

  /**
   * Stops renewing (before the drivers close, so that no round attaches one meanwhile).
   * `release` then gives the leases back so that others take over at once.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const u of this.unsubscribe) u();
    await this.chain;
    await this.work;
  }

  /** Gives back every lease and this replica's presence (after its drivers closed). */
  async release(): Promise<void> {
    this.driving.clear();
    await this.opts.db
      .execute(
        sql`update cluster_leases set expires_at = now() - interval '1 millisecond' where holder = ${this.id}`,
      )
      .catch(() => {});
    await this.opts.db
      .execute(sql`delete from control_replicas where id = ${this.id}`)
      .catch(() => {});
  }
}
