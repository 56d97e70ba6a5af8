import { createHash } from 'node:crypto';

/**
 * Which control-plane replica drives which cluster (its informers, launches and stops):
 * decisions only, from what the database says of replicas, clusters and leases
 * (sessions/ownership.ts reads them, takes and gives back leases, attaches drivers).
 *
 * Each cluster has one desired owner among the live replicas that can drive it, by
 * rendezvous hashing (the replica with the highest hash of cluster and replica ids): every
 * replica computes the same answer from the same rows without talking to the others, and a
 * replica joining or leaving moves only the clusters it wins or held. The lease, not this
 * answer, says who drives: a replica takes a lease only when it is free or expired, and gives
 * one back when another live replica is the desired owner.
 */

export interface ReplicaView {
  id: string;
  /** runs the `local` cluster's sessions (FLOE_LOCAL_CLUSTER) */
  local: boolean;
}

export interface ClusterView {
  id: string;
  driver: 'local' | 'kubernetes';
  /**
   * Whether there is anything to drive: a Kubernetes cluster with credentials, or the
   * `local` cluster of FLOE_LOCAL_CLUSTER (another cluster of driver `local`, registered
   * through the API, has no driver anywhere)
   */
  drivable: boolean;
}

export interface LeaseView {
  clusterId: string;
  holder: string;
  token: number;
  /** not yet expired, by the database's clock */
  live: boolean;
}

/** Who could drive the cluster, by its driver. */
export function candidates(cluster: ClusterView, replicas: ReplicaView[]): ReplicaView[] {
  if (!cluster.drivable) return [];
  return cluster.driver === 'local' ? replicas.filter((r) => r.local) : replicas;
}

const score = (clusterId: string, replicaId: string) =>
  createHash('sha256').update(`${clusterId}\n${replicaId}`).digest().readBigUInt64BE(0);

/** The replica that should drive the cluster, or null when none can. */
export function desiredOwner(cluster: ClusterView, replicas: ReplicaView[]): string | null {
  let best: { id: string; score: bigint } | null = null;
  for (const r of candidates(cluster, replicas)) {
    const s = score(cluster.id, r.id);
    if (!best || s > best.score || (s === best.score && r.id > best.id))
      best = { id: r.id, score: s };
  }
  return best?.id ?? null;
}

export interface LeasePlan {
  /** free or expired leases to take (or this replica's own to keep) */
  acquire: string[];
  /** live leases of this replica to keep */
  renew: string[];
  /** live leases of this replica to give back: another replica should drive, or none */
  release: string[];
}

/**
 * What `me` does with leases, given the live replicas (`me` among them), the live clusters
 * and every lease row. `dead`: replicas known to be gone though their rows have not expired
 * yet (a process of this machine that no longer exists): their leases are free now.
 */
export function planLeases(input: {
  me: string;
  replicas: ReplicaView[];
  clusters: ClusterView[];
  leases: LeaseView[];
  dead?: ReadonlySet<string>;
}): LeasePlan {
  const { me, clusters } = input;
  const dead = input.dead ?? new Set<string>();
  const replicas = input.replicas.filter((r) => !dead.has(r.id));
  const leases = input.leases.map((l) => (dead.has(l.holder) ? { ...l, live: false } : l));
  const leaseOf = new Map(leases.map((l) => [l.clusterId, l]));
  const plan: LeasePlan = { acquire: [], renew: [], release: [] };
  const known = new Set<string>();
  for (const cluster of clusters) {
    known.add(cluster.id);
    const lease = leaseOf.get(cluster.id);
    const mine = lease?.live === true && lease.holder === me;
    const desired = desiredOwner(cluster, replicas);
    if (mine) {
      (desired === me ? plan.renew : plan.release).push(cluster.id);
    } else if (desired === me && !lease?.live) {
      plan.acquire.push(cluster.id);
    }
  }
  // leases of clusters deleted since
  for (const lease of leases) {
    if (!known.has(lease.clusterId) && lease.live && lease.holder === me) {
      plan.release.push(lease.clusterId);
    }
  }
  return plan;
}

/** What this replica drives now: the cluster's row as attached, and the lease's token. */
export interface Driven {
  token: number;
  /** what a change of calls for a new driver (new credentials) */
  credentials: string | null;
  labels: Record<string, string>;
}

export interface DriverPlan {
  /** start driving (and reconcile) */
  attach: string[];
  /** stop driving: the lease was lost or given back, or the cluster deleted */
  detach: string[];
  /** new credentials, or the lease was lost and taken again: a new driver, reconciled */
  reattach: string[];
  /** only the labels changed: later launches use them */
  relabel: string[];
}

/**
 * Brings the drivers in line with the leases held (cluster id → token, after taking and
 * renewing) and the clusters' rows.
 */
export function planDrivers(input: {
  held: Map<string, number>;
  driving: Map<string, Driven>;
  rows: Map<string, { credentials: string | null; labels: Record<string, string> }>;
}): DriverPlan {
  const { held, driving, rows } = input;
  const plan: DriverPlan = { attach: [], detach: [], reattach: [], relabel: [] };
  for (const [id, token] of held) {
    const row = rows.get(id);
    const current = driving.get(id);
    if (!row) continue;
    if (!current) plan.attach.push(id);
    else if (current.token !== token || current.credentials !== row.credentials) {
      plan.reattach.push(id);
    } else if (!sameLabels(current.labels, row.labels)) plan.relabel.push(id);
  }
  for (const id of driving.keys()) {
    if (!held.has(id) || !rows.has(id)) plan.detach.push(id);
  }
  return plan;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>) {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
