/**
 * A STAND-IN for the gateway and the control plane, for the launcher and console page tests:
 * one node:http server that serves the built app (web/dist/app) the way the gateway will, and
 * answers, from memory, only the /api/v1 routes the pages call, in the control plane's shapes
 * (app-contract.test.ts checks them against its zod schemas), with its error codes, the CSRF
 * check of the gateway and the SSE progress stream. Sessions move through their states when the
 * test says so (`advance`), or on their own with `autoAdvanceMs`.
 *
 * It is not the real thing: no database, no auth beyond a switch (`signedIn`), no placement.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join, normalize } from 'node:path';
import type {
  ApiKey,
  App,
  AuditEntry,
  BillingPeriod,
  BillingSummary,
  Cluster,
  IdentityProvider,
  Me,
  QuotaEvent,
  Role,
  Session,
  SessionState,
  Tenant,
  TransferPolicy,
  UsageRow,
  User,
  WebhookDelivery,
  WebhookEndpoint,
} from '../src/app/types.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: IncomingMessage['headers'];
}

export interface StandInData {
  signedIn: boolean;
  role: Role;
  me: { id: string; email: string };
  tenant: Tenant;
  tenants: Tenant[];
  users: User[];
  apps: App[];
  sessions: Session[];
  apiKeys: ApiKey[];
  identityProvider: IdentityProvider | null;
  /** clipboard and file-transfer policies by 'tenant' or 'app:<slug>' (open when unset) */
  transferPolicies?: Record<string, TransferPolicy>;
  clusters: Cluster[];
  usage: UsageRow[];
  /** billing periods (newest first), their summaries by label, and other tenants' periods */
  billing: {
    periods: BillingPeriod[];
    summaries: Record<string, BillingSummary>;
    others: BillingPeriod[];
  };
  /** what GET …/quota-events answers (none when unset) */
  quotaEvents?: QuotaEvent[];
  /** newest first */
  auditLog: AuditEntry[];
  webhooks: WebhookEndpoint[];
  deliveries: WebhookDelivery[];
  /** false: every launch answers 503 no_capacity. */
  capacity: boolean;
}

export interface StandIn {
  url: string;
  data: StandInData;
  requests: Recorded[];
  /** The CSRF token the page must echo (set as the floe_csrf cookie with the page). */
  csrf: string;
  /** Moves a session to `state` and tells its progress streams. */
  advance(id: string, state: SessionState, reason?: string): void;
  /** Adds a session of `appSlug` in `state` for the signed-in user. */
  seedSession(appSlug: string, state: SessionState, minutesAgo?: number): Session;
  close(): Promise<void>;
}

const now = () => new Date().toISOString();
const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000).toISOString();

function tenantOf(slug: string, name: string, quotas: Partial<Tenant['quotas']> = {}): Tenant {
  return {
    id: randomUUID(),
    slug,
    name,
    quotas: {
      maxSessions: null,
      maxGpus: null,
      gpuHoursPerMonth: null,
      maxGpusPerSku: {},
      gpuHoursExceededAction: 'refuse',
      ...quotas,
    },
    allowedRegions: [],
    createdAt: ago(60 * 24 * 40),
    updatedAt: ago(60 * 24 * 40),
  };
}

function appOf(tenantId: string, fields: Partial<App> & Pick<App, 'slug' | 'name'>): App {
  return {
    id: randomUUID(),
    tenantId,
    description: '',
    icon: null,
    image: null,
    command: ['xterm'],
    resources: { cpu: '2', memory: '4Gi', gpus: null },
    class: null,
    persistence: null,
    idleTimeoutSeconds: null,
    maxLifetimeSeconds: null,
    env: {},
    scheduling: null,
    videoCodecs: null,
    createdAt: ago(60 * 24 * 30),
    updatedAt: ago(60 * 24 * 30),
    ...fields,
  };
}

// A small square icon as a data: URI (the page must show it without the network).
const ICON =
  'data:image/svg+xml,' +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 48 48"><rect width="48" height="48" rx="10" fill="#e87d0d"/><circle cx="24" cy="26" r="11" fill="#fff"/><circle cx="24" cy="26" r="5" fill="#265787"/></svg>',
  );

/** `YYYY-MM` of the month `back` months before this one (UTC). */
export function monthLabel(back = 0): string {
  const now = new Date();
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function periodOf(
  tenant: string,
  back: number,
  totals: Omit<BillingPeriod['totals'], 'currency'>,
): BillingPeriod {
  const label = monthLabel(back);
  const [y, m] = label.split('-').map(Number) as [number, number];
  return {
    id: randomUUID(),
    tenant,
    label,
    start: new Date(Date.UTC(y, m - 1, 1)).toISOString(),
    end: new Date(Date.UTC(y, m, 1)).toISOString(),
    timeZone: 'UTC',
    state: back > 0 ? 'closed' : 'open',
    closedAt: back > 0 ? new Date(Date.UTC(y, m, 2)).toISOString() : null,
    totals: { ...totals, currency: 'EUR' },
  };
}

/** Last month closed with usage on two days, this month open and empty. */
function billingOf(slug: string, ada: string, bob: string): StandInData['billing'] {
  const last = periodOf(slug, 1, {
    records: 3,
    sessionSeconds: '27000.000',
    gpuSeconds: '18000.000',
    amount: '1234.565000',
  });
  const current = periodOf(slug, 0, {
    records: 0,
    sessionSeconds: '0.000',
    gpuSeconds: '0.000',
    amount: '0.000000',
  });
  const g = (key: string, records: number, hours: number, gpuHours: number, amount: string) => ({
    key,
    records,
    sessionSeconds: `${hours * 3600}.000`,
    gpuSeconds: `${gpuHours * 3600}.000`,
    amount,
  });
  return {
    periods: [current, last],
    summaries: {
      [last.label]: {
        period: last,
        byUser: [g(ada, 2, 5, 5, '1000.000000'), g(bob, 1, 2.5, 0, '234.565000')],
        byApp: [g('blender', 2, 5, 5, '1000.000000'), g('vscode', 1, 2.5, 0, '234.565000')],
        bySku: [g('', 1, 2.5, 0, '234.565000'), g('l4', 2, 5, 5, '1000.000000')],
        byDay: [
          g(`${last.label}-03`, 2, 5, 5, '1000.000000'),
          g(`${last.label}-17`, 1, 2.5, 0, '234.565000'),
        ],
      },
      [current.label]: { period: current, byUser: [], byApp: [], bySku: [], byDay: [] },
    },
    others: [
      periodOf('globex', 1, {
        records: 1,
        sessionSeconds: '3600.000',
        gpuSeconds: '0.000',
        amount: '0.500000',
      }),
    ],
  };
}

export function defaultData(role: Role = 'member'): StandInData {
  const tenant = tenantOf('acme', 'Acme Studios', {
    maxSessions: 10,
    maxGpus: 8,
    gpuHoursPerMonth: 500,
  });
  const meId = randomUUID();
  const user = (email: string, r: User['role'], id = randomUUID()): User => ({
    id,
    tenantId: tenant.id,
    email,
    role: r,
    limits: { maxSessions: null, maxGpus: null, maxGpusPerSku: {} },
    createdAt: ago(60 * 24 * 20),
  });
  const users = [
    user('ada@acme.example', role === 'member' ? 'member' : 'tenant-admin', meId),
    user('grace@acme.example', 'member'),
    user('linus@acme.example', 'member'),
  ];
  const apps = [
    appOf(tenant.id, {
      slug: 'blender',
      name: 'Blender',
      description: '3D creation suite: modelling, rendering and animation.',
      icon: ICON,
      command: ['blender'],
      resources: { cpu: '8', memory: '32Gi', gpus: { sku: 'l4', count: 1 } },
    }),
    appOf(tenant.id, {
      slug: 'vscode',
      name: 'Visual Studio Code',
      description: 'Code editor with your home folder kept between sessions.',
      command: ['code', '--wait'],
      persistence: { size: '10Gi' },
    }),
    appOf(tenant.id, {
      slug: 'jupyter',
      name: 'JupyterLab',
      description: 'Notebooks on two A100s for model training.',
      icon: '/icons/missing.png', // answers 404: the tile falls back to initials
      image: 'registry.example/jupyter:4',
      command: null,
      resources: { cpu: '16', memory: '64Gi', gpus: { sku: 'a100', count: 2 } },
    }),
  ];
  return {
    signedIn: true,
    role,
    me: { id: meId, email: 'ada@acme.example' },
    tenant,
    tenants: [tenant, tenantOf('globex', 'Globex Research', { maxSessions: 4 })],
    users,
    apps,
    sessions: [],
    apiKeys: [
      {
        id: randomUUID(),
        tenantId: tenant.id,
        userId: null,
        name: 'ci-pipeline',
        role: 'tenant-admin',
        prefix: 'floe_Ab12Cd',
        expiresAt: null,
        revokedAt: null,
        createdAt: ago(60 * 24 * 5),
      },
    ],
    identityProvider: null,
    clusters: [
      {
        id: randomUUID(),
        name: 'eu-west-1a',
        region: 'eu-west',
        driver: 'kubernetes',
        apiServer: 'https://eu-west-1a.k8s.example:6443',
        credentials: 'kubeconfig',
        status: 'connected',
        error: null,
        gpus: [],
        capacity: {
          gpus: [
            { sku: 'l4', allocatable: 16, usedByOthers: 0, usedByFloe: 0, free: 16 },
            { sku: 'a100', allocatable: 8, usedByOthers: 0, usedByFloe: 0, free: 8 },
          ],
        },
        maxSessions: 200,
        labels: { tier: 'gpu' },
        createdAt: ago(60 * 24 * 90),
        updatedAt: ago(60 * 24 * 90),
      },
    ],
    usage: [
      {
        userId: users[0]!.id,
        email: users[0]!.email,
        appId: apps[0]!.id,
        app: 'blender',
        appName: 'Blender',
        gpuSku: 'l4',
        sessions: 4,
        sessionSeconds: 5 * 3600,
        gpuSeconds: 5 * 3600,
      },
      {
        userId: users[1]!.id,
        email: users[1]!.email,
        appId: apps[0]!.id,
        app: 'blender',
        appName: 'Blender',
        gpuSku: 'l4',
        sessions: 2,
        sessionSeconds: 3600,
        gpuSeconds: 3600,
      },
      {
        userId: users[1]!.id,
        email: users[1]!.email,
        appId: apps[1]!.id,
        app: 'vscode',
        appName: 'Visual Studio Code',
        gpuSku: null,
        sessions: 7,
        sessionSeconds: 9 * 3600,
        gpuSeconds: 0,
      },
    ],
    billing: billingOf(tenant.slug, users[0]!.email, users[1]!.email),
    auditLog: [
      auditOf(
        tenant.id,
        'app.update',
        'app',
        apps[0]!.id,
        { name: { from: 'Blendr', to: 'Blender' } },
        5,
      ),
      auditOf(
        tenant.id,
        'session.stop',
        'session',
        randomUUID(),
        { state: { from: 'running', to: 'stopping' } },
        30,
        'system',
      ),
      auditOf(
        tenant.id,
        'user.create',
        'user',
        users[2]!.id,
        { email: { from: null, to: users[2]!.email } },
        60 * 24,
      ),
    ],
    webhooks: [],
    deliveries: [],
    capacity: true,
  };
}

function auditOf(
  tenantId: string,
  action: string,
  targetType: string,
  targetId: string,
  diff: AuditEntry['diff'],
  minutesAgo: number,
  actor: AuditEntry['actor']['type'] = 'user',
): AuditEntry {
  return {
    id: randomUUID(),
    at: ago(minutesAgo),
    tenantId,
    actor: {
      type: actor,
      id: actor === 'system' ? null : randomUUID(),
      role: actor === 'system' ? 'system' : 'tenant-admin',
      tenantId: actor === 'system' ? null : tenantId,
    },
    action,
    target: { type: targetType, id: targetId },
    diff,
    request:
      actor === 'system'
        ? { id: null, sourceIp: null, userAgent: null }
        : { id: randomUUID(), sourceIp: '198.51.100.20', userAgent: 'Mozilla/5.0' },
  };
}

class Refusal extends Error {
  readonly status: number;
  readonly code: string;
  readonly extra: Record<string, string | number>;
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    code: string,
    message: string,
    extra: Record<string, string | number> = {},
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
    this.headers = headers;
  }
}

/** The per-SKU GPU quota, with the 429 body the control plane sends (domain/quota.ts). */
function refusePerSku(
  limits: Record<string, number>,
  want: { sku: string; count: number } | null,
  active: { gpus: { sku: string; count: number } | null }[],
) {
  const limit = want ? limits[want.sku] : undefined;
  if (!want || limit === undefined) return;
  const used = active.reduce((n, s) => n + (s.gpus?.sku === want.sku ? s.gpus.count : 0), 0);
  if (used + want.count <= limit) return;
  throw new Refusal(
    429,
    'quota_exceeded',
    `quota tenant.maxGpusPerSku[${want.sku}] exceeded: the tenant allows ${limit} ${want.sku} GPUs (${used} in use)`,
    { quota: 'tenant.maxGpusPerSku', sku: want.sku, limit, used },
  );
}

const notFound = (what: string) => new Refusal(404, 'not_found', `${what} not found`);
const ACTIVE: SessionState[] = ['requested', 'placed', 'starting', 'running', 'stopping'];
const NEXT: Partial<Record<SessionState, SessionState>> = {
  requested: 'placed',
  placed: 'starting',
  starting: 'running',
  stopping: 'stopped',
};

/** A page of `items` (newest first) like control/src/http/paginate.ts. */
function page<T extends { id: string }>(items: T[], query: URLSearchParams) {
  const limit = Math.min(500, Number(query.get('limit') ?? 100) || 100);
  const cursor = query.get('cursor');
  const start = cursor ? items.findIndex((i) => i.id === cursor) + 1 : 0;
  const slice = items.slice(start, start + limit);
  return {
    items: slice,
    nextCursor: start + limit < items.length ? (slice.at(-1)?.id ?? null) : null,
  };
}

export async function startStandIn(
  dir: string,
  options: { data?: StandInData; autoAdvanceMs?: number | null } = {},
): Promise<StandIn> {
  const data = options.data ?? defaultData();
  const requests: Recorded[] = [];
  const csrf = randomBytes(16).toString('hex');
  const streams = new Map<string, Set<ServerResponse>>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const sockets = new Set<Socket>();

  const schedule = (fn: () => void, ms: number) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const send = (res: ServerResponse, event: string, payload: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(payload)}\n\n`);
  };

  const present = (s: Session): Session => ({
    ...s,
    endpoint: s.state === 'running' ? s.endpoint : null,
  });

  function advance(id: string, state: SessionState, reason?: string) {
    const s = data.sessions.find((x) => x.id === id);
    if (!s) throw new Error(`stand-in: no session ${id}`);
    s.events = [
      ...(s.events ?? []),
      { from: s.state, to: state, reason: reason ?? null, at: now() },
    ];
    s.state = state;
    s.reason = reason ?? s.reason;
    s.updatedAt = now();
    if (state === 'running') s.endpoint = `http://10.0.0.7:8080/${s.id}`;
    for (const res of streams.get(id) ?? []) {
      send(res, 'session', present(s));
      if (state === 'stopped' || state === 'failed') {
        send(res, 'end', {});
        res.end();
      }
    }
    if (state === 'stopped' || state === 'failed') streams.delete(id);
    const next = NEXT[state];
    if (options.autoAdvanceMs != null && next)
      schedule(() => advance(id, next), options.autoAdvanceMs);
  }

  function newSession(app: App, state: SessionState, createdAt = now()): Session {
    const s: Session = {
      id: randomUUID(),
      tenantId: data.tenant.id,
      userId: data.me.id,
      appId: app.id,
      clusterId: data.clusters[0]?.id ?? null,
      state,
      reason: null,
      exitCode: null,
      gpus: app.resources.gpus,
      endpoint: state === 'running' ? 'http://10.0.0.7:8080/' : null,
      createdAt,
      updatedAt: createdAt,
    };
    data.sessions.unshift(s);
    return s;
  }

  const tenantBySlug = (slug: string) => {
    const t = data.tenants.find((x) => x.slug === slug || x.id === slug);
    if (!t || (data.role !== 'platform-admin' && t.id !== data.tenant.id)) throw notFound('tenant');
    return t;
  };
  const admin = () => {
    if (data.role === 'member')
      throw new Refusal(403, 'forbidden', 'your role does not allow this');
  };
  const platform = () => {
    if (data.role !== 'platform-admin')
      throw new Refusal(403, 'forbidden', 'your role does not allow this');
  };

  async function api(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    body: unknown,
  ): Promise<unknown> {
    const m = req.method ?? 'GET';
    const input = (body ?? {}) as Record<string, unknown>;
    if (m === 'GET' && path === '/me') {
      const me: Me = {
        role: data.role,
        tenant: { id: data.tenant.id, slug: data.tenant.slug, name: data.tenant.name },
        user: { id: data.me.id, email: data.me.email },
      };
      return me;
    }
    if (path === '/tenants') {
      if (m === 'GET')
        return page(data.role === 'platform-admin' ? data.tenants : [data.tenant], query);
      platform();
      const t = tenantOf(
        String(input.slug),
        String(input.name),
        (input.quotas ?? {}) as Tenant['quotas'],
      );
      t.allowedRegions = (input.allowedRegions as string[]) ?? [];
      data.tenants.unshift(t);
      res.statusCode = 201;
      return t;
    }
    const platformPeriod = /^\/billing\/periods\/(\d{4}-\d{2})$/.exec(path);
    if (platformPeriod && m === 'GET') {
      platform();
      const label = platformPeriod[1];
      const items = [...data.billing.periods, ...data.billing.others].filter(
        (p) => p.label === label,
      );
      return { label, items: items.sort((a, b) => a.tenant.localeCompare(b.tenant)) };
    }
    if (path === '/clusters' && m === 'GET') {
      platform();
      return page(data.clusters, query);
    }
    const parts = path.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] !== 'tenants' || !parts[1])
      throw new Refusal(404, 'not_found', `no route for ${m} /v1${path}`);
    const tenant = tenantBySlug(parts[1]);
    const [, , kind, id, sub] = parts;
    if (!kind) {
      if (m === 'GET') return tenant;
      if (m === 'PATCH') {
        platform();
        Object.assign(tenant.quotas, (input.quotas ?? {}) as object);
        if (typeof input.name === 'string') tenant.name = input.name;
        tenant.updatedAt = now();
        return tenant;
      }
    }
    // clipboard and file-transfer policies: the tenant's (kind) and an app's (sub)
    if (kind === 'transfer-policy' || (kind === 'apps' && sub === 'transfer-policy')) {
      admin();
      if (kind === 'apps' && !data.apps.some((a) => a.slug === id || a.id === id)) {
        throw notFound('app');
      }
      const key = kind === 'apps' ? `app:${id}` : 'tenant';
      data.transferPolicies ??= {};
      if (m === 'GET') {
        return (
          data.transferPolicies[key] ?? {
            clipboard: true,
            files: true,
            maxFileBytes: null,
            maxHomeBytes: null,
          }
        );
      }
      if (m === 'PUT') {
        data.transferPolicies[key] = input as unknown as TransferPolicy;
        return input;
      }
    }
    if (kind === 'apps') {
      const find = (ref: string) =>
        data.apps.find((a) => a.slug === ref || a.id === ref) ??
        (() => {
          throw notFound('app');
        })();
      if (!id && m === 'GET') return page(data.apps, query);
      admin();
      if (!id && m === 'POST') {
        if (data.apps.some((a) => a.slug === input.slug))
          throw new Refusal(409, 'conflict', `app "${input.slug}" already exists`);
        const app = appOf(tenant.id, {
          ...(input as unknown as App),
          createdAt: now(),
          updatedAt: now(),
        });
        data.apps.unshift(app);
        res.statusCode = 201;
        return app;
      }
      if (id && m === 'GET') return find(id);
      if (id && m === 'PATCH') return Object.assign(find(id), input, { updatedAt: now() });
      if (id && m === 'DELETE') {
        const app = find(id);
        data.apps = data.apps.filter((a) => a !== app);
        res.statusCode = 204;
        return undefined;
      }
    }
    if (kind === 'users') {
      admin();
      const find = (ref: string) =>
        data.users.find((u) => u.id === ref || u.email === ref) ??
        (() => {
          throw notFound('user');
        })();
      if (!id && m === 'GET') return page(data.users, query);
      if (!id && m === 'POST') {
        if (data.users.some((u) => u.email === input.email))
          throw new Refusal(409, 'conflict', `user ${input.email} already exists`);
        const u: User = {
          id: randomUUID(),
          tenantId: tenant.id,
          email: String(input.email),
          role: (input.role as User['role']) ?? 'member',
          limits: { maxSessions: null, maxGpus: null, maxGpusPerSku: {} },
          createdAt: now(),
        };
        data.users.unshift(u);
        res.statusCode = 201;
        return u;
      }
      if (id && m === 'PATCH') {
        const u = find(id);
        if (input.role) u.role = input.role as User['role'];
        if (input.limits) Object.assign(u.limits, input.limits);
        return u;
      }
      if (id && m === 'DELETE') {
        const u = find(id);
        if (data.sessions.some((s) => s.userId === u.id && ACTIVE.includes(s.state)))
          throw new Refusal(409, 'conflict', 'the user still has active sessions; stop them first');
        data.users = data.users.filter((x) => x !== u);
        res.statusCode = 204;
        return undefined;
      }
    }
    if (kind === 'sessions') {
      const mine = (s: Session) => data.role !== 'member' || s.userId === data.me.id;
      const find = (ref: string) =>
        data.sessions.find((s) => s.id === ref && mine(s)) ??
        (() => {
          throw notFound('session');
        })();
      if (!id && m === 'GET') {
        const states = query.get('state');
        const user = query.get('user');
        const list = data.sessions.filter(
          (s) =>
            mine(s) &&
            (!states ||
              (states === 'active'
                ? ACTIVE.includes(s.state)
                : states.split(',').includes(s.state))) &&
            (!user || s.userId === user),
        );
        return page(list.map(present), query);
      }
      if (!id && m === 'POST') {
        const app = data.apps.find((a) => a.slug === input.app || a.id === input.app);
        if (!app) throw notFound('app');
        const active = data.sessions.filter(
          (s) => s.tenantId === tenant.id && ACTIVE.includes(s.state),
        );
        const { maxSessions, maxGpus } = tenant.quotas;
        if (maxSessions !== null && active.length + 1 > maxSessions) {
          throw new Refusal(
            429,
            'quota_exceeded',
            `quota tenant.maxSessions exceeded: the tenant allows ${maxSessions} concurrent sessions (${active.length} active)`,
            { quota: 'tenant.maxSessions' },
          );
        }
        const gpus = active.reduce((n, s) => n + (s.gpus?.count ?? 0), 0);
        if (maxGpus !== null && gpus + (app.resources.gpus?.count ?? 0) > maxGpus) {
          throw new Refusal(
            429,
            'quota_exceeded',
            `quota tenant.maxGpus exceeded: the tenant allows ${maxGpus} GPUs (${gpus} in use)`,
            { quota: 'tenant.maxGpus' },
          );
        }
        refusePerSku(tenant.quotas.maxGpusPerSku, app.resources.gpus, active);
        if (!data.capacity)
          throw new Refusal(
            503,
            'no_capacity',
            'every eligible cluster is full; retry later',
            {},
            { 'retry-after': '5' },
          );
        const s = newSession(app, 'requested');
        s.events = [{ from: null, to: 'requested', reason: null, at: s.createdAt }];
        if (options.autoAdvanceMs != null)
          schedule(() => advance(s.id, 'placed'), options.autoAdvanceMs);
        res.statusCode = 201;
        return present(s);
      }
      if (id && !sub && m === 'GET') return present(find(id));
      if (id && !sub && m === 'DELETE') {
        const s = find(id);
        if (!ACTIVE.includes(s.state)) return present(s);
        if (s.state !== 'stopping') advance(s.id, 'stopping');
        res.statusCode = 202;
        return present(s);
      }
      if (id && sub === 'progress' && m === 'GET') {
        const s = find(id);
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        send(res, 'session', present(s));
        if (!ACTIVE.includes(s.state)) {
          send(res, 'end', {});
          res.end();
          return undefined;
        }
        const set = streams.get(id) ?? new Set();
        set.add(res);
        streams.set(id, set);
        req.on('close', () => set.delete(res));
        return undefined;
      }
    }
    if (kind === 'billing' && m === 'GET') {
      admin();
      if (id === 'periods' && !sub) return { items: data.billing.periods };
      if (id === 'periods' && sub) {
        const summary = data.billing.summaries[sub];
        if (!summary) throw notFound(`billing period ${sub}`);
        return summary;
      }
      if (id === 'export') {
        const period = query.get('period') ?? '';
        const format = query.get('format') ?? 'csv';
        res.writeHead(200, {
          'content-type': 'text/csv; charset=utf-8',
          'content-disposition': `attachment; filename="floe-usage-${tenant.slug}-${period}.${format}"`,
        });
        res.end('record_id,kind\r\n1,usage\r\n');
        return undefined;
      }
    }
    if (kind === 'quota-events' && m === 'GET') {
      if (data.role === 'member')
        throw new Refusal(403, 'forbidden', 'your role does not allow this');
      return { items: data.quotaEvents ?? [] };
    }
    if (kind === 'usage' && m === 'GET') {
      const from = query.get('from') ?? ago(60 * 24 * 30);
      const to = query.get('to') ?? now();
      const items =
        data.role === 'member' ? data.usage.filter((r) => r.userId === data.me.id) : data.usage;
      return {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        items,
        totals: {
          sessionSeconds: items.reduce((n, r) => n + r.sessionSeconds, 0),
          gpuSeconds: items.reduce((n, r) => n + r.gpuSeconds, 0),
        },
      };
    }
    if (kind === 'api-keys') {
      admin();
      if (!id && m === 'GET') return page(data.apiKeys, query);
      if (!id && m === 'POST') {
        const user = input.user
          ? data.users.find((u) => u.email === input.user || u.id === input.user)
          : undefined;
        if (input.user && !user) throw notFound('user');
        const token = `floe_${randomBytes(32).toString('base64url')}`;
        const key: ApiKey = {
          id: randomUUID(),
          tenantId: tenant.id,
          userId: user?.id ?? null,
          name: String(input.name),
          role: input.role as Role,
          prefix: token.slice(0, 11),
          expiresAt: (input.expiresAt as string) ?? null,
          revokedAt: null,
          createdAt: now(),
        };
        data.apiKeys.unshift(key);
        res.statusCode = 201;
        return { ...key, token };
      }
      if (id && m === 'DELETE') {
        const key = data.apiKeys.find((k) => k.id === id && !k.revokedAt);
        if (!key) throw notFound('API key');
        key.revokedAt = now();
        res.statusCode = 204;
        return undefined;
      }
    }
    if (kind === 'audit-log' && m === 'GET') {
      admin();
      const action = query.get('action');
      const actorType = query.get('actorType');
      const matches = data.auditLog.filter(
        (e) =>
          (!action ||
            (action.endsWith('.*')
              ? e.action.startsWith(action.slice(0, -1))
              : e.action === action)) &&
          (!actorType || e.actor.type === actorType),
      );
      if (id === 'export') {
        res.setHeader('content-type', 'application/jsonl; charset=utf-8');
        return matches.map((e) => JSON.stringify(e)).join('\n');
      }
      return page(matches, query);
    }
    if (kind === 'webhooks') {
      admin();
      const find = (ref: string) =>
        data.webhooks.find((w) => w.id === ref) ??
        (() => {
          throw notFound('webhook endpoint');
        })();
      if (!id && m === 'GET') return page(data.webhooks, query);
      if (!id && m === 'POST') {
        const hook: WebhookEndpoint = {
          id: randomUUID(),
          tenantId: tenant.id,
          url: String(input.url),
          description: String(input.description ?? ''),
          eventTypes: input.eventTypes as string[],
          enabled: true,
          disabledReason: null,
          failingSince: null,
          consecutiveFailures: 0,
          createdAt: now(),
          updatedAt: now(),
        };
        data.webhooks.unshift(hook);
        res.statusCode = 201;
        return { ...hook, secret: `whsec_${randomBytes(32).toString('base64')}` };
      }
      if (id && !sub && m === 'PATCH') {
        const hook = find(id);
        if (input.enabled === true) {
          Object.assign(hook, {
            enabled: true,
            disabledReason: null,
            failingSince: null,
            consecutiveFailures: 0,
          });
        } else if (input.enabled === false) hook.enabled = false;
        return Object.assign(hook, { updatedAt: now() });
      }
      if (id && !sub && m === 'DELETE') {
        find(id);
        data.webhooks = data.webhooks.filter((w) => w.id !== id);
        res.statusCode = 204;
        return undefined;
      }
      if (id && sub === 'deliveries' && m === 'GET') {
        find(id);
        return page(
          data.deliveries.filter((d) => d.endpointId === id),
          query,
        );
      }
      const deliveryId = parts[5];
      if (id && sub === 'deliveries' && deliveryId && parts[6] === 'redeliver' && m === 'POST') {
        const original = data.deliveries.find((d) => d.id === deliveryId && d.endpointId === id);
        if (!original) throw notFound('delivery');
        const copy: WebhookDelivery = {
          ...original,
          id: randomUUID(),
          state: 'pending',
          attempts: 0,
          nextAttemptAt: now(),
          lastAttemptAt: null,
          lastStatus: null,
          lastError: null,
          deliveredAt: null,
          createdAt: now(),
        };
        data.deliveries.unshift(copy);
        res.statusCode = 202;
        return copy;
      }
    }
    if (kind === 'identity-provider' && !id) {
      admin();
      if (m === 'GET') {
        if (!data.identityProvider) throw notFound('identity provider');
        return data.identityProvider;
      }
      if (m === 'PUT') {
        const { clientSecret, allowedEmailDomains, requiredClaim, ...rest } =
          input as unknown as Omit<
            IdentityProvider,
            'hasClientSecret' | 'updatedAt' | 'allowedEmailDomains' | 'requiredClaim'
          > & {
            clientSecret?: string | null;
            allowedEmailDomains?: string[];
            requiredClaim?: IdentityProvider['requiredClaim'];
          };
        const before = data.identityProvider;
        const kept = before?.hasClientSecret ?? false;
        const hasClientSecret = clientSecret === undefined ? kept : clientSecret !== null;
        data.identityProvider = {
          ...rest,
          hasClientSecret,
          // omitted: kept, as the control plane does
          allowedEmailDomains: allowedEmailDomains ?? before?.allowedEmailDomains ?? [],
          requiredClaim:
            requiredClaim === undefined ? (before?.requiredClaim ?? null) : requiredClaim,
          updatedAt: now(),
        };
        return data.identityProvider;
      }
      if (m === 'DELETE') {
        data.identityProvider = null;
        res.statusCode = 204;
        return undefined;
      }
    }
    throw new Refusal(404, 'not_found', `no route for ${m} /v1${path}`);
  }

  const html = (res: ServerResponse, status: number, title: string) => {
    res.writeHead(status, { 'content-type': TYPES['.html']! });
    res.end(`<!doctype html><title>${title}</title><h1>${title}</h1>`);
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname;
    try {
      if (path.startsWith('/api/v1/')) {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? JSON.parse(text) : undefined;
        const apiPath = path.slice('/api/v1'.length);
        requests.push({
          method: req.method ?? 'GET',
          path: apiPath,
          query: url.searchParams,
          body,
          headers: req.headers,
        });
        if (!data.signedIn) throw new Refusal(401, 'unauthorized', 'sign in again');
        if (req.method !== 'GET') {
          const cookie = /(?:^|;\s*)floe_csrf=([^;]*)/.exec(req.headers.cookie ?? '')?.[1];
          if (!cookie || req.headers['x-csrf-token'] !== cookie)
            throw new Refusal(403, 'forbidden', 'missing or wrong CSRF token');
          if (req.headers['content-type'] !== 'application/json')
            throw new Refusal(415, 'invalid_request', 'send JSON');
        }
        const out = await api(req, res, apiPath, url.searchParams, body);
        if (res.headersSent) return; // the progress stream
        if (out === undefined) {
          res.writeHead(res.statusCode === 200 ? 204 : res.statusCode).end();
          return;
        }
        if (typeof out === 'string') {
          res.writeHead(res.statusCode).end(out); // an export, its content-type already set
          return;
        }
        res.writeHead(res.statusCode, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
        return;
      }
      if (path === '/' || path === '/console' || path.startsWith('/console/')) {
        res.writeHead(200, {
          'content-type': TYPES['.html']!,
          'set-cookie': `floe_csrf=${csrf}; Path=/; SameSite=Lax`,
        });
        res.end(await readFile(join(dir, 'index.html')));
        return;
      }
      if (path.startsWith('/app/')) {
        const file = normalize(join(dir, path.slice('/app/'.length)));
        if (!file.startsWith(dir)) return html(res, 403, 'Forbidden');
        const body = await readFile(file).catch(() => null);
        if (!body) return html(res, 404, 'Not found');
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
        res.end(body);
        return;
      }
      if (path === '/login') return html(res, 200, 'Sign in (stand-in)');
      if (path === '/logout') return html(res, 200, 'Signed out (stand-in)');
      if (/^\/sessions\/[^/]+\/$/.test(path)) return html(res, 200, 'Stream page (stand-in)');
      html(res, 404, 'Not found');
    } catch (err) {
      if (res.headersSent) return;
      if (err instanceof Refusal) {
        res.writeHead(err.status, { 'content-type': 'application/json', ...err.headers });
        res.end(JSON.stringify({ error: { code: err.code, message: err.message, ...err.extra } }));
        return;
      }
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'internal', message: 'internal error' } }));
    }
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    data,
    requests,
    csrf,
    advance,
    seedSession(appSlug, state, minutesAgo = 12) {
      const app = data.apps.find((a) => a.slug === appSlug);
      if (!app) throw new Error(`stand-in: no app ${appSlug}`);
      return newSession(app, state, ago(minutesAgo));
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
