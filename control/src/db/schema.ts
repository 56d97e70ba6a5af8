import type { AppScheduling } from '@floe/operator/crd';
import type { VideoCodec } from '@floe/streamer/protocol';
import { type SQLWrapper, sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { SESSION_STATES, TERMINAL_STATES_SQL } from '../domain/session-states.ts';

// defined in domain/session-states.ts; re-exported for the modules that read them with the tables
export { SESSION_STATES, type SessionState } from '../domain/session-states.ts';

import type { Capacity } from '../drivers/driver.ts';

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
};

// Rows that sessions (and so usage and billing) refer to are never hard-deleted: a
// deleted tenant, user, app or cluster keeps its history, it only stops being usable.
const deletedAt = timestamp('deleted_at', { withTimezone: true });

/** GPU limits per SKU: at most this many GPUs of the SKU at once; a SKU not named is not limited. */
export type GpusPerSku = Record<string, number>;

/**
 * What happens once a tenant's GPU-hours of the month are used up: `refuse` turns away new
 * GPU launches only; `stop` also stops its running GPU sessions.
 */
export const GPU_HOURS_EXCEEDED_ACTIONS = ['refuse', 'stop'] as const;
export type GpuHoursExceededAction = (typeof GPU_HOURS_EXCEEDED_ACTIONS)[number];

export const tenants = pgTable(
  'tenants',
  {
    id: uuid('id').primaryKey(),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    maxSessions: integer('max_sessions'),
    maxGpus: integer('max_gpus'),
    gpuHoursPerMonth: integer('gpu_hours_per_month'),
    maxGpusPerSku: jsonb('max_gpus_per_sku').$type<GpusPerSku>().notNull().default({}),
    gpuHoursExceededAction: text('gpu_hours_exceeded_action', { enum: GPU_HOURS_EXCEEDED_ACTIONS })
      .notNull()
      .default('refuse'),
    allowedRegions: text('allowed_regions').array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
    deletedAt,
  },
  (t) => [uniqueIndex('tenants_slug_live').on(t.slug).where(sql`${t.deletedAt} is null`)],
);

export const users = pgTable(
  'users',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    email: text('email').notNull(),
    role: text('role', { enum: ['tenant-admin', 'member'] }).notNull(),
    // the display name the identity provider last gave (gateway identity tokens)
    name: text('name'),
    maxSessions: integer('max_sessions'),
    maxGpus: integer('max_gpus'),
    maxGpusPerSku: jsonb('max_gpus_per_sku').$type<GpusPerSku>().notNull().default({}),
    ...timestamps,
    deletedAt,
  },
  (t) => [
    uniqueIndex('users_email_live')
      .on(t.tenantId, sql`lower(${t.email})`)
      .where(sql`${t.deletedAt} is null`),
  ],
);

/** `gateway`: a regional gateway, which may call /v1/gateway/* only */
export const API_KEY_ROLES = ['platform-admin', 'tenant-admin', 'member', 'gateway'] as const;

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey(),
    // null for platform-admin and gateway keys, which belong to no tenant
    tenantId: uuid('tenant_id').references(() => tenants.id),
    userId: uuid('user_id').references(() => users.id),
    name: text('name').notNull(),
    role: text('role', { enum: API_KEY_ROLES }).notNull(),
    prefix: text('prefix').notNull(),
    secretHash: text('secret_hash').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    createdAt: timestamps.createdAt,
  },
  (t) => [
    uniqueIndex('api_keys_secret_hash').on(t.secretHash),
    index('api_keys_tenant').on(t.tenantId),
  ],
);

/**
 * A tenant's own OpenID Provider, which the gateway signs its users in with. The client
 * secret is sealed with AES-256-GCM under FLOE_SECRET_KEY (src/secrets.ts) and only the
 * gateway ever reads it back; null for a public client.
 */
export const identityProviders = pgTable('identity_providers', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  issuer: text('issuer').notNull(),
  clientId: text('client_id').notNull(),
  clientSecretSealed: text('client_secret_sealed'),
  rolesClaim: text('roles_claim').notNull(),
  adminRoles: text('admin_roles').array().notNull(),
  /** only emails in these domains sign in; empty: any */
  allowedEmailDomains: text('allowed_email_domains').array().notNull().default([]),
  /** the ID token must carry this claim with this value; both null: none required */
  requiredClaimName: text('required_claim_name'),
  requiredClaimValue: text('required_claim_value'),
  ...timestamps,
});

/** Host names that select a tenant at the gateway; one tenant per name. */
export const tenantHostnames = pgTable(
  'tenant_hostnames',
  {
    hostname: text('hostname').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    createdAt: timestamps.createdAt,
  },
  (t) => [index('tenant_hostnames_tenant').on(t.tenantId)],
);

export type EnvVars = Record<string, string>;
export type { AppScheduling };

export const apps = pgTable(
  'apps',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    description: text('description').notNull().default(''),
    icon: text('icon'),
    image: text('image'),
    command: text('command').array(),
    cpu: text('cpu').notNull(),
    memory: text('memory').notNull(),
    gpuSku: text('gpu_sku'),
    gpuCount: integer('gpu_count').notNull().default(0),
    /** the app's pricing class: rate cards may price a class of apps (billing/pricing.ts) */
    appClass: text('app_class'),
    persistenceSize: text('persistence_size'),
    idleTimeoutSeconds: integer('idle_timeout_seconds'),
    maxLifetimeSeconds: integer('max_lifetime_seconds'),
    env: jsonb('env').$type<EnvVars>().notNull().default({}),
    /** Kubernetes scheduling and mounts of the app's pods (operator/src/crd.ts) */
    scheduling: jsonb('scheduling').$type<AppScheduling>(),
    /** Video codecs in order of preference (streamer/src/codec.ts); null: the streamer's own */
    videoCodecs: text('video_codecs').array().$type<VideoCodec[]>(),
    ...timestamps,
    deletedAt,
  },
  (t) => [uniqueIndex('apps_slug_live').on(t.tenantId, t.slug).where(sql`${t.deletedAt} is null`)],
);

export type GpuInventory = { sku: string; count: number }[];

export const clusters = pgTable(
  'clusters',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    region: text('region').notNull(),
    driver: text('driver', { enum: ['local', 'kubernetes'] }).notNull(),
    gpus: jsonb('gpus').$type<GpuInventory>().notNull().default([]),
    maxSessions: integer('max_sessions'),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    // kubernetes: the API server's URL (shown), and the kubeconfig that reaches it, sealed
    // with AES-256-GCM under FLOE_SECRET_KEY (src/secrets.ts), bound to the cluster's id
    apiServer: text('api_server'),
    kubeconfigSealed: text('kubeconfig_sealed'),
    ...timestamps,
    deletedAt,
  },
  (t) => [uniqueIndex('clusters_name_live').on(t.name).where(sql`${t.deletedAt} is null`)],
);

/** `state not in ('stopped', 'failed')` with literals: see TERMINAL_STATES_SQL. */
const NOT_TERMINAL = sql.raw(`not in ${TERMINAL_STATES_SQL}`);

export type DriverRef = Record<string, string | number>;

export const sessions = pgTable(
  'sessions',
  {
    // UUIDv7: time-ordered, so the id is also the pagination cursor
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id),
    clusterId: uuid('cluster_id').references(() => clusters.id),
    state: text('state', { enum: SESSION_STATES }).notNull(),
    reason: text('reason'),
    exitCode: integer('exit_code'),
    gpuSku: text('gpu_sku'),
    gpuCount: integer('gpu_count').notNull().default(0),
    endpoint: text('endpoint'),
    driverRef: jsonb('driver_ref').$type<DriverRef>(),
    idempotencyKey: text('idempotency_key'),
    requestHash: text('request_hash'),
    ...timestamps,
  },
  (t) => [
    // Quota counts and placement read only active sessions; these stay small. Each
    // predicate names its own key column, so that neither query can pick the other's
    // index (with stale statistics PostgreSQL once scanned all active sessions that way).
    index('sessions_tenant_active')
      .on(t.tenantId, t.userId, t.gpuCount)
      .where(sql`${t.state} ${NOT_TERMINAL} and ${t.tenantId} is not null`),
    index('sessions_cluster_active')
      .on(t.clusterId, t.gpuSku, t.gpuCount)
      .where(sql`${t.state} ${NOT_TERMINAL} and ${t.clusterId} is not null`),
    index('sessions_tenant_id').on(t.tenantId, t.id),
    uniqueIndex('sessions_idempotency').on(t.tenantId, t.idempotencyKey),
    check('sessions_gpu_count', sql`${t.gpuCount} >= 0`),
  ],
);

/**
 * "The session is active" (ACTIVE_STATES), written as the partial indexes' predicate with
 * literals, so that PostgreSQL can always prove an index applies (it cannot from bound
 * parameters).
 */
export const sessionIsActive = () => stateIsActive(sessions.state);

/** The same predicate on any state column, e.g. sql`s.state` in raw SQL with an alias. */
export const stateIsActive = (state: SQLWrapper) => sql`${state} ${NOT_TERMINAL}`;

export const sessionEvents = pgTable(
  'session_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id),
    tenantId: uuid('tenant_id').notNull(),
    fromState: text('from_state', { enum: SESSION_STATES }),
    toState: text('to_state', { enum: SESSION_STATES }).notNull(),
    reason: text('reason'),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('session_events_session').on(t.sessionId, t.id),
    // usage: the 'running' events of a tenant in a period
    index('session_events_usage').on(t.tenantId, t.toState, t.at),
  ],
);

// ---- sharing (issue 19): who else may watch or control a running session ----

/** What a grant lets its holder do: watch only, or send input too. */
export const GRANT_ROLES = ['viewer', 'control'] as const;
/** To one user of the session's tenant, or to whoever of the tenant holds a signed link. */
export const GRANT_KINDS = ['user', 'link'] as const;

/**
 * A session shared by its owner. Never deleted: a revoke sets `revoked_at`, so the audit
 * trail and the gateway's answer ("this link was revoked") stay. A grant is live while it is
 * neither revoked nor expired and the session is active; the gateway reads the live ones.
 */
export const sessionGrants = pgTable(
  'session_grants',
  {
    // UUIDv7: time-ordered; a link's signed token names this id
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id),
    kind: text('kind', { enum: GRANT_KINDS }).notNull(),
    /** the user it is for (kind `user`); null for a link */
    userId: uuid('user_id').references(() => users.id),
    role: text('role', { enum: GRANT_ROLES }).notNull(),
    /** the user who shared it; null when an API key did */
    createdBy: uuid('created_by').references(() => users.id),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** null: until the session ends or the grant is revoked (a link always expires) */
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
  },
  (t) => [
    index('session_grants_session').on(t.sessionId, t.id),
    // one live grant per user and session: sharing again changes it, never duplicates it
    uniqueIndex('session_grants_user_live')
      .on(t.sessionId, t.userId)
      .where(sql`${t.revokedAt} is null and ${t.userId} is not null`),
    check(
      'session_grants_kind',
      sql`(${t.kind} = 'user') = (${t.userId} is not null) and (${t.kind} = 'user' or ${t.expiresAt} is not null)`,
    ),
  ],
);

// ---- billing (issue 16): rate cards, periods, and the usage records derived from events ----

/** Decimal amounts as strings (never binary floats): `"0.25"`, up to 6 decimals. */
export type PriceMap = Record<string, string>;

/**
 * What usage costs from `effective_from` on: the platform default (tenant_id null) or a
 * tenant's override. A period is priced by the card in force at its start (billing/pricing.ts).
 */
export const rateCards = pgTable(
  'rate_cards',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    currency: text('currency').notNull(),
    effectiveFrom: timestamp('effective_from', { withTimezone: true }).notNull(),
    /** per session-hour, for apps not named in appSessionHour */
    sessionHour: numeric('session_hour', { precision: 18, scale: 6 }).notNull(),
    /** per session-hour, by app slug (before its class) */
    appSessionHour: jsonb('app_session_hour').$type<PriceMap>().notNull().default({}),
    /** per session-hour, by app class */
    classSessionHour: jsonb('class_session_hour').$type<PriceMap>().notNull().default({}),
    /** per GPU-hour, by GPU SKU; a SKU not named costs nothing */
    gpuHour: jsonb('gpu_hour').$type<PriceMap>().notNull().default({}),
    createdAt: timestamps.createdAt,
  },
  (t) => [unique('rate_cards_effective').on(t.tenantId, t.effectiveFrom).nullsNotDistinct()],
);

/** A tenant's billing settings; no row: periods are months in UTC. */
export const billingSettings = pgTable('billing_settings', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  /** an IANA time zone; billing months start at midnight there */
  timeZone: text('time_zone').notNull(),
  ...timestamps,
});

export const PERIOD_STATES = ['open', 'closed'] as const;

/** The frozen sums of a closed period (decimal strings). */
export interface PeriodTotals {
  records: number;
  sessionSeconds: string;
  gpuSeconds: string;
  amount: string;
  currency: string;
}

/**
 * One tenant's billing month, [starts_at, ends_at). Once closed, neither it nor its usage
 * records can change: triggers in drizzle/0007_billing.sql refuse it, whatever the caller.
 */
export const billingPeriods = pgTable(
  'billing_periods',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    /** YYYY-MM of the month in the period's time zone */
    label: text('label').notNull(),
    startsAt: timestamp('starts_at', { withTimezone: true }).notNull(),
    endsAt: timestamp('ends_at', { withTimezone: true }).notNull(),
    timeZone: text('time_zone').notNull(),
    state: text('state', { enum: PERIOD_STATES }).notNull().default('open'),
    closedAt: timestamp('closed_at', { withTimezone: true }),
    /** the last session_events id seen when it closed: later events are late usage */
    eventWatermark: bigint('event_watermark', { mode: 'number' }),
    rateCardId: uuid('rate_card_id').references(() => rateCards.id),
    totals: jsonb('totals').$type<PeriodTotals>(),
    createdAt: timestamps.createdAt,
  },
  (t) => [
    uniqueIndex('billing_periods_label').on(t.tenantId, t.label),
    uniqueIndex('billing_periods_start').on(t.tenantId, t.startsAt),
    check('billing_periods_span', sql`${t.startsAt} < ${t.endsAt}`),
  ],
);

export const USAGE_RECORD_KINDS = ['usage', 'adjustment'] as const;

/**
 * One session's usage in one billing period, derived from session_events (which stay the
 * only source of truth: an open period's records are recomputed from them). Names (email,
 * app slug, cluster, region) are copied in so that a closed period's export never changes.
 * An `adjustment` is late usage of the closed period `adjusts_period_id`, booked here.
 */
export const usageRecords = pgTable(
  'usage_records',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    periodId: uuid('period_id')
      .notNull()
      .references(() => billingPeriods.id),
    tenantId: uuid('tenant_id').notNull(),
    kind: text('kind', { enum: USAGE_RECORD_KINDS }).notNull(),
    adjustsPeriodId: uuid('adjusts_period_id').references(() => billingPeriods.id),
    sessionId: uuid('session_id').notNull(),
    userId: uuid('user_id').notNull(),
    userEmail: text('user_email').notNull(),
    appId: uuid('app_id').notNull(),
    appSlug: text('app_slug').notNull(),
    appClass: text('app_class'),
    clusterId: uuid('cluster_id'),
    clusterName: text('cluster_name'),
    region: text('region'),
    gpuSku: text('gpu_sku'),
    gpuCount: integer('gpu_count').notNull(),
    sliceStart: timestamp('slice_start', { withTimezone: true, precision: 3 }).notNull(),
    sliceEnd: timestamp('slice_end', { withTimezone: true, precision: 3 }).notNull(),
    sessionSeconds: numeric('session_seconds', { precision: 18, scale: 3 }).notNull(),
    gpuSeconds: numeric('gpu_seconds', { precision: 18, scale: 3 }).notNull(),
    currency: text('currency').notNull(),
    amount: numeric('amount', { precision: 18, scale: 6 }).notNull(),
  },
  (t) => [
    index('usage_records_period').on(t.periodId, t.id),
    index('usage_records_session').on(t.sessionId),
    check(
      'usage_records_adjusts',
      sql`(${t.kind} = 'adjustment') = (${t.adjustsPeriodId} is not null)`,
    ),
  ],
);

export const QUOTA_EVENT_TYPES = ['quota.warning', 'quota.exceeded'] as const;
export type QuotaEventType = (typeof QUOTA_EVENT_TYPES)[number];

/**
 * Quota events of a tenant (sessions/quota-events.ts): the GPU-hours of a month reached 90 %
 * (`quota.warning`) or 100 % (`quota.exceeded`). At most one of each type per tenant, quota
 * and period: the unique index makes "once per period" hold across replicas and restarts.
 */
export const quotaEvents = pgTable(
  'quota_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    type: text('type', { enum: QUOTA_EVENT_TYPES }).notNull(),
    quota: text('quota').notNull(),
    periodStart: timestamp('period_start', { withTimezone: true }).notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('quota_events_once').on(t.tenantId, t.type, t.quota, t.periodStart)],
);

/** who made a change: the admin token, an API key, a user (through the gateway), Floe itself */
export const AUDIT_ACTOR_TYPES = ['admin-token', 'api-key', 'user', 'system'] as const;
export type AuditActorType = (typeof AUDIT_ACTOR_TYPES)[number];

/**
 * Every write, recorded in the transaction of the change (src/audit/record.ts). Append-only:
 * the database refuses UPDATE, DELETE and TRUNCATE (a trigger in drizzle/0008_audit_webhooks.sql, and the
 * privileges revoked from the role that owns it), whatever the application does.
 */
export const auditLog = pgTable(
  'audit_log',
  {
    // UUIDv7: time-ordered, so the id is also the pagination cursor
    id: uuid('id').primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    // the tenant the change belongs to; null: platform-wide (clusters, platform keys)
    tenantId: uuid('tenant_id'),
    actorType: text('actor_type', { enum: AUDIT_ACTOR_TYPES }).notNull(),
    // the API key's or the user's id; null for the admin token and the system
    actorId: text('actor_id'),
    actorRole: text('actor_role').notNull(),
    actorTenantId: uuid('actor_tenant_id'),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id'),
    diff: jsonb('diff').$type<Record<string, unknown>>(),
    requestId: text('request_id'),
    sourceIp: text('source_ip'),
    userAgent: text('user_agent'),
  },
  (t) => [
    index('audit_log_tenant').on(t.tenantId, t.id),
    index('audit_log_target').on(t.targetType, t.targetId),
  ],
);

/** A tenant's webhook receiver, and the event types (`session.*`, `quota.warning`…) it wants. */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    eventTypes: text('event_types').array().notNull(),
    // the Standard Webhooks signing secret (whsec_…), sealed under FLOE_SECRET_KEY
    secretSealed: text('secret_sealed').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    disabledReason: text('disabled_reason'),
    // the first failed attempt since the last success; null while it succeeds
    failingSince: timestamp('failing_since', { withTimezone: true }),
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    ...timestamps,
    deletedAt,
  },
  (t) => [index('webhook_endpoints_tenant').on(t.tenantId, t.id)],
);

export const DELIVERY_STATES = ['pending', 'succeeded', 'failed'] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];

/**
 * The transactional outbox: one row per event and endpoint, written in the transaction of
 * the change (src/events/outbox.ts), sent by the delivery worker (src/webhooks/worker.ts).
 * A pending row's next_attempt_at is also its lease: a worker that claims it moves it on.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey(),
    // the Standard Webhooks message id (webhook-id): the same for every attempt and redelivery
    eventId: uuid('event_id').notNull(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id),
    tenantId: uuid('tenant_id').notNull(),
    eventType: text('event_type').notNull(),
    // the body sent: {type, timestamp, data}
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    state: text('state', { enum: DELIVERY_STATES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true }),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    createdAt: timestamps.createdAt,
  },
  (t) => [
    index('webhook_deliveries_due').on(t.nextAttemptAt).where(sql`${t.state} = 'pending'`),
    index('webhook_deliveries_endpoint').on(t.endpointId, t.id),
  ],
);

// ---- what the gateway replicas share (issue 17): launch rate limits and session renewals ----

/**
 * A user's launch token bucket (sessions/launch-rate.ts): held here rather than in each
 * gateway's memory, so that N gateway replicas still allow one user the configured rate.
 */
export const launchBuckets = pgTable('launch_buckets', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id),
  tokens: doublePrecision('tokens').notNull(),
  at: timestamp('at', { withTimezone: true, precision: 3 }).notNull(),
});

/**
 * One renewal of a gateway session cookie, keyed by a hash of the old cookie: the first
 * replica to claim it asks the identity provider, the others wait for its outcome, so that a
 * rotating refresh token is used once whichever replicas the browser's requests reach. The
 * outcome is sealed by the gateways (only they can read it); rows live a minute.
 */
export const gatewayRenewals = pgTable(
  'gateway_renewals',
  {
    key: text('key').primaryKey(),
    outcome: text('outcome'),
    claimedAt: timestamp('claimed_at', { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  },
  (t) => [index('gateway_renewals_expiry').on(t.expiresAt)],
);

/**
 * A running control-plane process, seen by the others while it renews `expiresAt` (about
 * every second; sessions/ownership.ts): the replicas among which clusters' drivers are
 * shared out. `local`: it runs the `local` cluster's sessions (FLOE_LOCAL_CLUSTER).
 */
export const controlReplicas = pgTable('control_replicas', {
  id: text('id').primaryKey(),
  local: boolean('local').notNull().default(false),
  startedAt: timestamp('started_at', { withTimezone: true }).notNull().defaultNow(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
});

/**
 * Which replica drives a cluster (its informers, launches and stops): the one holding an
 * unexpired lease. `token` grows at each change of holder (a fencing token), so that a holder
 * that was paused past its expiry can tell it lost the lease even if it got it back.
 */
export const clusterLeases = pgTable('cluster_leases', {
  clusterId: uuid('cluster_id')
    .primaryKey()
    .references(() => clusters.id),
  holder: text('holder').notNull(),
  token: bigint('token', { mode: 'number' }).notNull(),
  expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
  /** what the holder's driver sees of the cluster (capacity, status), for the other replicas */
  observed: jsonb('observed').$type<Capacity>(),
});

/**
 * Data-loss prevention for streams (docs/files.md): whether clipboard and file transfer work,
 * and how large files and homes may get. One row per tenant (`appId` null) and at most one per
 * app, which can only narrow its tenant's: the launch hands the streamer what both allow
 * (domain/transfer.ts), and the streamer enforces it. No row: everything allowed, no limits.
 */
export const transferPolicies = pgTable(
  'transfer_policies',
  {
    id: uuid('id').primaryKey(),
    tenantId: uuid('tenant_id')
      .notNull()
      .references(() => tenants.id),
    appId: uuid('app_id').references(() => apps.id),
    clipboard: boolean('clipboard').notNull().default(true),
    files: boolean('files').notNull().default(true),
    maxFileBytes: bigint('max_file_bytes', { mode: 'number' }),
    maxHomeBytes: bigint('max_home_bytes', { mode: 'number' }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex('transfer_policies_tenant').on(t.tenantId).where(sql`${t.appId} is null`),
    uniqueIndex('transfer_policies_app').on(t.appId).where(sql`${t.appId} is not null`),
  ],
);
