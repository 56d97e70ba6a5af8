/** A cluster as placement sees it: inventory and what active sessions already hold. */
export interface ClusterView {
  id: string;
  name: string;
  region: string;
  /** its driver reaches it now; an unreachable cluster takes no new session */
  reachable: boolean;
  /** GPUs by SKU it has (Kubernetes: allocatable now, from its nodes) */
  gpus: { sku: string; count: number }[];
  /** null: no limit on sessions (CPU-only sessions are then not capacity-checked). */
  maxSessions: number | null;
  activeSessions: number;
  /** GPUs by SKU in use: by Floe's active sessions there, and by workloads outside Floe */
  usedGpus: Record<string, number>;
}

export interface PlacementRequest {
  allowedRegions: string[]; // empty: any region
  preferredRegion?: string;
  gpuSku: string | null;
  gpuCount: number;
}

export type Placement =
  | { ok: true; clusterId: string }
  | { ok: false; reason: 'unplaceable' | 'no_capacity'; message: string };

function freeGpus(c: ClusterView, sku: string): number {
  const total = c.gpus.filter((g) => g.sku === sku).reduce((n, g) => n + g.count, 0);
  return total - (c.usedGpus[sku] ?? 0);
}

/** Share of the cluster in use, 0..1; GPU share for GPU requests, sessions otherwise. */
function load(c: ClusterView, req: PlacementRequest): number {
  if (req.gpuSku) {
    const total = c.gpus.filter((g) => g.sku === req.gpuSku).reduce((n, g) => n + g.count, 0);
    return total === 0 ? 1 : (c.usedGpus[req.gpuSku] ?? 0) / total;
  }
  return c.maxSessions ? c.activeSessions / c.maxSessions : 0;
}

/** Clusters that could ever run the request: an allowed region, and the SKU if GPUs are asked. */
export function eligible<C extends Pick<ClusterView, 'region' | 'gpus'>>(
  clusters: C[],
  req: PlacementRequest,
): C[] {
  const needsGpu = req.gpuCount > 0 && req.gpuSku !== null;
  return clusters.filter(
    (c) =>
      (req.allowedRegions.length === 0 || req.allowedRegions.includes(c.region)) &&
      (!needsGpu || c.gpus.some((g) => g.sku === req.gpuSku && g.count >= req.gpuCount)),
  );
}

/**
 * Chooses a cluster: keep the eligible ones, then the reachable ones with room; prefer the
 * user's region, then the least loaded, then the fewest sessions; the name breaks ties so
 * that the same inputs always give the same answer.
 */
export function place(clusters: ClusterView[], req: PlacementRequest): Placement {
  const needsGpu = req.gpuCount > 0 && req.gpuSku !== null;
  const candidates = eligible(clusters, req);
  if (candidates.length === 0) {
    const what = needsGpu ? `${req.gpuCount}× ${req.gpuSku} GPU` : 'this session';
    const where =
      req.allowedRegions.length > 0 ? ` in regions ${req.allowedRegions.join(', ')}` : '';
    return { ok: false, reason: 'unplaceable', message: `no cluster can run ${what}${where}` };
  }
  const reachable = candidates.filter((c) => c.reachable);
  const away = candidates.filter((c) => !c.reachable).map((c) => c.name);
  if (reachable.length === 0) {
    const which = away.length === 1 ? `cluster ${away[0]} is` : `clusters ${away.join(', ')} are`;
    return {
      ok: false,
      reason: 'no_capacity',
      message: `the eligible ${which} unreachable; retry later`,
    };
  }
  const withRoom = reachable.filter(
    (c) =>
      (c.maxSessions === null || c.activeSessions < c.maxSessions) &&
      (!needsGpu || freeGpus(c, req.gpuSku as string) >= req.gpuCount),
  );
  if (withRoom.length === 0) {
    const also = away.length > 0 ? ` (and ${away.join(', ')} unreachable)` : '';
    return {
      ok: false,
      reason: 'no_capacity',
      message: `every eligible cluster is full${also}; retry later`,
    };
  }
  const best = withRoom
    .map((c) => ({ c, local: c.region === req.preferredRegion ? 0 : 1, load: load(c, req) }))
    .sort(
      (a, b) =>
        a.local - b.local ||
        a.load - b.load ||
        a.c.activeSessions - b.c.activeSessions ||
        a.c.name.localeCompare(b.c.name),
    )[0];
  return { ok: true, clusterId: (best as { c: ClusterView }).c.id };
}
