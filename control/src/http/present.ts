// Database rows → API shapes. Dates become ISO strings; internal columns stay inside.
import type {
  apiKeys,
  apps,
  clusters,
  sessionEvents,
  sessions,
  tenants,
  users,
} from '../db/schema.ts';

const iso = (d: Date) => d.toISOString();
const isoOrNull = (d: Date | null) => (d ? d.toISOString() : null);

export function presentTenant(t: typeof tenants.$inferSelect) {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    quotas: {
      maxSessions: t.maxSessions,
      maxGpus: t.maxGpus,
      gpuHoursPerMonth: t.gpuHoursPerMonth,
      maxGpusPerSku: t.maxGpusPerSku,
      gpuHoursExceededAction: t.gpuHoursExceededAction,
    },
    allowedRegions: t.allowedRegions,
    createdAt: iso(t.createdAt),
    updatedAt: iso(t.updatedAt),
  };
}

export function presentUser(u: typeof users.$inferSelect) {
  return {
    id: u.id,
    tenantId: u.tenantId,
    email: u.email,
    role: u.role,
    limits: { maxSessions: u.maxSessions, maxGpus: u.maxGpus, maxGpusPerSku: u.maxGpusPerSku },
    createdAt: iso(u.createdAt),
  };
}

export function presentApiKey(k: typeof apiKeys.$inferSelect) {
  return {
    id: k.id,
    tenantId: k.tenantId,
    userId: k.userId,
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    expiresAt: isoOrNull(k.expiresAt),
    revokedAt: isoOrNull(k.revokedAt),
    createdAt: iso(k.createdAt),
  };
}

export function presentApp(a: typeof apps.$inferSelect) {
  return {
    id: a.id,
    tenantId: a.tenantId,
    slug: a.slug,
    name: a.name,
    description: a.description,
    icon: a.icon,
    image: a.image,
    command: a.command,
    resources: {
      cpu: a.cpu,
      memory: a.memory,
      gpus: a.gpuSku && a.gpuCount > 0 ? { sku: a.gpuSku, count: a.gpuCount } : null,
    },
    class: a.appClass,
    persistence: a.persistenceSize ? { size: a.persistenceSize } : null,
    idleTimeoutSeconds: a.idleTimeoutSeconds,
    maxLifetimeSeconds: a.maxLifetimeSeconds,
    env: a.env,
    scheduling: a.scheduling ?? null,
    videoCodecs: a.videoCodecs ?? null,
    createdAt: iso(a.createdAt),
    updatedAt: iso(a.updatedAt),
  };
}

/** What a cluster's driver sees of it now (null: no driver in this process). */
export interface ClusterLive {
  status: 'connected' | 'connecting' | 'unreachable';
  error: string | null;
  gpus: {
    sku: string;
    allocatable: number;
    usedByOthers: number;
    usedByFloe: number;
    free: number;
  }[];
}

export function presentCluster(c: typeof clusters.$inferSelect, live: ClusterLive | null) {
  return {
    id: c.id,
    name: c.name,
    region: c.region,
    driver: c.driver,
    apiServer: c.apiServer,
    credentials: c.kubeconfigSealed ? ('kubeconfig' as const) : null,
    status: live?.status ?? ('detached' as const),
    error: live?.error ?? null,
    gpus: c.gpus,
    capacity: live ? { gpus: live.gpus } : null,
    maxSessions: c.maxSessions,
    labels: c.labels,
    createdAt: iso(c.createdAt),
    updatedAt: iso(c.updatedAt),
  };
}

export function presentSession(
  s: typeof sessions.$inferSelect,
  events?: (typeof sessionEvents.$inferSelect)[],
) {
  return {
    id: s.id,
    tenantId: s.tenantId,
    userId: s.userId,
    appId: s.appId,
    clusterId: s.clusterId,
    state: s.state,
    reason: s.reason,
    exitCode: s.exitCode,
    gpus: s.gpuSku && s.gpuCount > 0 ? { sku: s.gpuSku, count: s.gpuCount } : null,
    // the endpoint is only meaningful while the app is up
    endpoint: s.state === 'running' ? s.endpoint : null,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
    ...(events && {
      events: events.map((e) => ({
        from: e.fromState,
        to: e.toState,
        reason: e.reason,
        at: iso(e.at),
      })),
    }),
  };
}
