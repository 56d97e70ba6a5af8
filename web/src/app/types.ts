/**
 * The API shapes the pages read, as the control plane answers them (its zod schemas in
 * control/src/http/schemas.ts own the contract; web/test/app-contract.test.ts checks that the
 * stand-in API of the page tests agrees with them). Types, and the session states in order.
 */

export type Role = 'member' | 'tenant-admin' | 'platform-admin';
/** API keys may also be a regional gateway's (keys of no tenant). */
export type KeyRole = Role | 'gateway';

export type { Session, SessionEvent } from '@floe/control/api-types';
// The session states and "active" are the control plane's (a module with no imports, which
// the bundle includes); the session bodies are types inferred from its response schemas.
export {
  ACTIVE_STATES,
  isActive,
  isTerminal,
  SESSION_STATES,
  type SessionState,
} from '@floe/control/session-states';

export interface Me {
  role: Role;
  tenant: { id: string; slug: string; name: string } | null;
  user: { id: string; email: string; name?: string } | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Gpus {
  sku: string;
  count: number;
}

export interface Quotas {
  maxSessions: number | null;
  maxGpus: number | null;
  gpuHoursPerMonth: number | null;
}

/** GPU SKU → most GPUs of it at once; a SKU not named is not limited. */
export type GpusPerSku = Record<string, number>;

/** At 100 % of the month's GPU-hours: refuse new GPU launches, or also stop running ones. */
export type GpuHoursExceededAction = 'refuse' | 'stop';

/** A tenant's quotas as the server sends them: the form's three numbers and the rest. */
export interface TenantQuotas extends Quotas {
  maxGpusPerSku: GpusPerSku;
  gpuHoursExceededAction: GpuHoursExceededAction;
}

export interface Tenant {
  id: string;
  slug: string;
  name: string;
  quotas: TenantQuotas;
  allowedRegions: string[];
  createdAt: string;
  updatedAt: string;
}

/** A user's own limits; null: no limit. */
export interface UserLimits {
  maxSessions: number | null;
  maxGpus: number | null;
  maxGpusPerSku: GpusPerSku;
}

export interface User {
  id: string;
  tenantId: string;
  email: string;
  role: 'tenant-admin' | 'member';
  limits: UserLimits;
  createdAt: string;
}

export interface App {
  id: string;
  tenantId: string;
  slug: string;
  name: string;
  description: string;
  icon: string | null;
  image: string | null;
  command: string[] | null;
  resources: { cpu: string; memory: string; gpus: Gpus | null };
  class: string | null;
  persistence: { size: string } | null;
  idleTimeoutSeconds: number | null;
  maxLifetimeSeconds: number | null;
  env: Record<string, string>;
  /** the app's Kubernetes template (control's AppScheduling); the console does not edit it yet */
  scheduling: Record<string, unknown> | null;
  /** the codecs the app's stream prefers, in order (null: the streamer's own order) */
  videoCodecs: string[] | null;
  createdAt: string;
  updatedAt: string;
}

export interface ApiKey {
  id: string;
  tenantId: string | null;
  userId: string | null;
  name: string;
  role: KeyRole;
  prefix: string;
  expiresAt: string | null;
  revokedAt: string | null;
  createdAt: string;
}

export interface ApiKeyCreated extends ApiKey {
  token: string;
}

export interface UsageRow {
  userId: string;
  email: string;
  appId: string;
  /** The app's slug; empty when it was removed. */
  app: string;
  /** The app's display name; empty when it was removed. */
  appName: string;
  gpuSku: string | null;
  sessions: number;
  sessionSeconds: number;
  gpuSeconds: number;
}

/** A quota event: the month's GPU-hours reached 90 % (warning) or 100 % (exceeded). */
export interface QuotaEvent {
  type: 'quota.warning' | 'quota.exceeded';
  quota: string;
  periodStart: string;
  data: Record<string, unknown>;
  at: string;
}

export interface Usage {
  from: string;
  to: string;
  items: UsageRow[];
  totals: { sessionSeconds: number; gpuSeconds: number };
}

export interface Cluster {
  id: string;
  name: string;
  region: string;
  driver: 'local' | 'kubernetes';
  /** the Kubernetes API server's URL */
  apiServer: string | null;
  credentials: 'kubeconfig' | null;
  status: 'connected' | 'connecting' | 'unreachable' | 'detached';
  error: string | null;
  gpus: Gpus[];
  /** live, from the cluster's nodes; null when no driver is attached */
  capacity: {
    gpus: {
      sku: string;
      allocatable: number;
      usedByOthers: number;
      usedByFloe: number;
      free: number;
    }[];
  } | null;
  maxSessions: number | null;
  labels: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** The tenant's identity provider as GET answers it: the client secret is never sent back. */
export interface IdentityProvider {
  issuer: string;
  clientId: string;
  hasClientSecret: boolean;
  rolesClaim: string;
  adminRoles: string[];
  hostnames: string[];
  /** only emails in these domains sign in; empty: any */
  allowedEmailDomains: string[];
  /** the ID token must carry this claim with this value */
  requiredClaim: { name: string; value: string } | null;
  updatedAt: string;
}

/** The error body of every refusal. */
export interface ErrorBody {
  error: {
    code: string;
    message: string;
    /** a 429's quota, and for a per-SKU one its SKU, with its limit and what is used */
    quota?: string;
    sku?: string;
    limit?: number;
    used?: number;
  };
}

/** Exact sums of a billing period's usage records: decimals as strings (never floats). */
export interface BillingTotals {
  records: number;
  sessionSeconds: string;
  gpuSeconds: string;
  amount: string;
  currency: string;
}

export interface BillingPeriod {
  id: string;
  tenant: string;
  label: string;
  start: string;
  end: string;
  timeZone: string;
  state: 'open' | 'closed';
  closedAt: string | null;
  totals: BillingTotals;
}

export type BillingGroup = Omit<BillingTotals, 'currency'> & { key: string };

export interface BillingSummary {
  period: BillingPeriod;
  byUser: BillingGroup[];
  byApp: BillingGroup[];
  bySku: BillingGroup[];
  byDay: BillingGroup[];
}

/** An audit log entry (control/src/http/audit-schemas.ts). */
export interface AuditEntry {
  id: string;
  at: string;
  tenantId: string | null;
  actor: {
    type: 'admin-token' | 'api-key' | 'user' | 'system';
    id: string | null;
    role: string;
    tenantId: string | null;
  };
  action: string;
  target: { type: string; id: string | null };
  diff: Record<string, { from: unknown; to: unknown }> | null;
  request: { id: string | null; sourceIp: string | null; userAgent: string | null };
}

/** A webhook endpoint (control/src/http/webhook-schemas.ts). */
export interface WebhookEndpoint {
  id: string;
  tenantId: string;
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
  disabledReason: string | null;
  failingSince: string | null;
  consecutiveFailures: number;
  createdAt: string;
  updatedAt: string;
}

export interface WebhookEndpointCreated extends WebhookEndpoint {
  secret: string;
}

export interface WebhookDelivery {
  id: string;
  eventId: string;
  endpointId: string;
  eventType: string;
  state: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
  payload: Record<string, unknown>;
}

/** A tenant's or an app's clipboard and file-transfer policy (control: routes/transfer-policy.ts). */
export interface TransferPolicy {
  clipboard: boolean;
  files: boolean;
  maxFileBytes: number | null;
  maxHomeBytes: number | null;
}
