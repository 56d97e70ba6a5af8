import { and, eq, isNull, or, sql } from 'drizzle-orm';
import type { Db } from './db/connect.ts';
import {
  apiKeys,
  apps,
  clusters,
  identityProviders,
  tenantHostnames,
  tenants,
  users,
} from './db/schema.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (s: string) => UUID.test(s);

export type ApiKeyRow = Pick<
  typeof apiKeys.$inferSelect,
  'id' | 'role' | 'tenantId' | 'userId' | 'expiresAt'
> & {
  /** the current role of the key's user (null for a key of no user) */
  userRole: (typeof users.$inferSelect)['role'] | null;
};

/**
 * Reads of slowly changing configuration (API keys, tenants, users, apps, clusters),
 * behind a short-lived cache because every request needs several of them. Every write
 * through this process's API clears the cache before it answers (api.ts), so this process
 * never serves a stale answer after its own write; every change, through any replica,
 * clears every replica's cache when its notification arrives (the `floe_config` trigger,
 * db/notify.ts), and `ttlMs` bounds what a lost notification could leave. Quotas and
 * limits are not read from here: admission reads them under the tenant's lock.
 */
export class Lookups {
  private readonly entries = new Map<string, { value: unknown; until: number }>();
  private generation = 0;
  private readonly db: Db;
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(db: Db, opts: { ttlMs: number; maxEntries?: number }) {
    this.db = db;
    this.ttlMs = opts.ttlMs;
    this.maxEntries = opts.maxEntries ?? 50_000;
  }

  clear() {
    this.generation++;
    this.entries.clear();
  }

  private async cached<T>(key: string, load: () => Promise<T | undefined>) {
    const hit = this.entries.get(key);
    if (hit && hit.until > Date.now()) return hit.value as T;
    const generation = this.generation;
    const value = await load();
    // a load that raced a clear() may carry what the write replaced: don't keep it
    if (value !== undefined && generation === this.generation && this.ttlMs > 0) {
      if (this.entries.size >= this.maxEntries) this.entries.clear();
      this.entries.set(key, { value, until: Date.now() + this.ttlMs });
    }
    return value;
  }

  /** A usable API key by the SHA-256 of its token: not revoked, its tenant and user live. */
  apiKey(hash: string): Promise<ApiKeyRow | undefined> {
    return this.cached(`key:${hash}`, async () => {
      const [key] = await this.db
        .select({
          id: apiKeys.id,
          role: apiKeys.role,
          tenantId: apiKeys.tenantId,
          userId: apiKeys.userId,
          expiresAt: apiKeys.expiresAt,
          userRole: users.role,
        })
        .from(apiKeys)
        .leftJoin(tenants, eq(tenants.id, apiKeys.tenantId))
        .leftJoin(users, eq(users.id, apiKeys.userId))
        .where(
          and(
            eq(apiKeys.secretHash, hash),
            isNull(apiKeys.revokedAt),
            isNull(tenants.deletedAt),
            isNull(users.deletedAt),
          ),
        )
        .limit(1);
      return key;
    });
  }

  /** A live tenant by slug or id. */
  tenant(ref: string) {
    return this.cached(`tenant:${ref}`, async () => {
      const [row] = await this.db
        .select()
        .from(tenants)
        .where(
          and(
            isNull(tenants.deletedAt),
            isUuid(ref) ? or(eq(tenants.id, ref), eq(tenants.slug, ref)) : eq(tenants.slug, ref),
          ),
        )
        .limit(1);
      return row;
    });
  }

  /** The live tenant a host name selects at the gateway. */
  tenantByHostname(hostname: string) {
    return this.cached(`host:${hostname}`, async () => {
      const [row] = await this.db
        .select({ tenant: tenants })
        .from(tenantHostnames)
        .innerJoin(tenants, eq(tenants.id, tenantHostnames.tenantId))
        .where(and(eq(tenantHostnames.hostname, hostname), isNull(tenants.deletedAt)))
        .limit(1);
      return row?.tenant;
    });
  }

  /** The tenant's identity provider (client secret still sealed), if it has one. */
  identityProvider(tenantId: string) {
    return this.cached(`idp:${tenantId}`, async () => {
      const [row] = await this.db
        .select()
        .from(identityProviders)
        .where(eq(identityProviders.tenantId, tenantId));
      return row;
    });
  }

  /** A live user of the tenant by id or email (case-insensitive). */
  user(tenantId: string, ref: string) {
    return this.cached(`user:${tenantId}:${ref.toLowerCase()}`, async () => {
      const [row] = await this.db
        .select()
        .from(users)
        .where(
          and(
            eq(users.tenantId, tenantId),
            isNull(users.deletedAt),
            isUuid(ref) ? eq(users.id, ref) : sql`lower(${users.email}) = lower(${ref})`,
          ),
        )
        .limit(1);
      return row;
    });
  }

  /** A live app of the tenant by slug or id. */
  app(tenantId: string, ref: string) {
    return this.cached(`app:${tenantId}:${ref}`, async () => {
      const [row] = await this.db
        .select()
        .from(apps)
        .where(
          and(
            eq(apps.tenantId, tenantId),
            isNull(apps.deletedAt),
            isUuid(ref) ? or(eq(apps.id, ref), eq(apps.slug, ref)) : eq(apps.slug, ref),
          ),
        )
        .limit(1);
      return row;
    });
  }

  /** Every live cluster. */
  async clusters() {
    return (
      (await this.cached('clusters', () =>
        this.db.select().from(clusters).where(isNull(clusters.deletedAt)),
      )) ?? []
    );
  }
}
