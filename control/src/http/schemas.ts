// The API's contract: these zod schemas validate requests and generate /openapi.json.

import { VIDEO_CODECS } from '@floe/streamer/protocol';
import { z } from '@hono/zod-openapi';
import {
  API_KEY_ROLES,
  GPU_HOURS_EXCEEDED_ACTIONS,
  GRANT_KINDS,
  GRANT_ROLES,
  QUOTA_EVENT_TYPES,
  SESSION_STATES,
} from '../db/schema.ts';

const slug = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'lowercase letters, digits and dashes, 1–63')
  .openapi({ example: 'acme' });
// lengths are checked on what was sent, as the schema says, and then it is trimmed
const name = z.string().min(1).max(200).regex(/\S/, 'not blank').trim();
const count = z.number().int().min(0).max(1_000_000);
const limit = count.nullable();
const quantity = (example: string) =>
  z
    .string()
    .regex(
      /^\d+(\.\d+)?(m|k|Ki|Mi|Gi|Ti|K|M|G|T)?$/,
      'a Kubernetes quantity such as 2, 500m or 4Gi',
    )
    .openapi({ example });
const region = z.string().regex(/^[a-z0-9-]{1,63}$/, 'lowercase letters, digits and dashes');
// PostgreSQL has no year 0 and JavaScript writes years past 9999 as "+010000": a moment
// must fall in years 1 to 9999 once in UTC (an offset can move a date across either end)
const EARLIEST = Date.parse('0001-01-01T00:00:00Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');
const timestamp = z.iso.datetime({ offset: true }).refine(
  (s) => {
    const t = Date.parse(s);
    return t >= EARLIEST && t <= LATEST;
  },
  { message: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z' },
);
const id = z.uuid();

// GPUs per SKU: {"l4": 4} allows at most 4 l4 GPUs at once; a SKU not named is not limited
// (beside maxGpus, which counts every SKU). A PATCH replaces the whole map.
const gpusPerSku = z
  .record(region, count)
  .refine((m) => Object.keys(m).length <= 64, 'at most 64 SKUs')
  .openapi('GpusPerSku', {
    description: 'GPU SKU → most GPUs of it at once; a SKU not named is not limited',
    example: { l4: 4, a100: 1 },
  });
const gpuHoursExceededAction = z.enum(GPU_HOURS_EXCEEDED_ACTIONS).openapi({
  description:
    'at 100 % of gpuHoursPerMonth: `refuse` turns away new GPU launches; `stop` also stops ' +
    'the tenant’s running GPU sessions (a quota.warning event is recorded at 90 %)',
});

export const IdOrSlugParam = z.string().min(1).max(100);

export const TenantQuotas = z
  .strictObject({
    maxSessions: limit.default(null),
    maxGpus: limit.default(null),
    gpuHoursPerMonth: limit.default(null),
    maxGpusPerSku: gpusPerSku.default({}),
    gpuHoursExceededAction: gpuHoursExceededAction.default('refuse'),
  })
  .openapi('TenantQuotas', { description: 'null means unlimited' });

export const TenantCreate = z
  .strictObject({
    // never id-shaped: a tenant is looked up by slug or id, and one tenant's slug must not
    // be able to name another tenant (at the gateway's sign-in, in every /v1/tenants/{tenant})
    slug: slug.refine(
      (s) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(s),
      'must not have the shape of an id (a UUID)',
    ),
    name,
    quotas: TenantQuotas.default({
      maxSessions: null,
      maxGpus: null,
      gpuHoursPerMonth: null,
      maxGpusPerSku: {},
      gpuHoursExceededAction: 'refuse',
    }),
    allowedRegions: z.array(region).max(100).default([]).openapi({ description: 'empty: any' }),
  })
  .openapi('TenantCreate');

export const TenantPatch = z
  .strictObject({
    name: name.optional(),
    quotas: z
      .strictObject({
        maxSessions: limit,
        maxGpus: limit,
        gpuHoursPerMonth: limit,
        maxGpusPerSku: gpusPerSku,
        gpuHoursExceededAction,
      })
      .partial()
      .optional(),
    allowedRegions: z.array(region).max(100).optional(),
  })
  .openapi('TenantPatch');

export const Tenant = z
  .object({
    id,
    slug: z.string(),
    name: z.string(),
    quotas: z.object({
      maxSessions: limit,
      maxGpus: limit,
      gpuHoursPerMonth: limit,
      maxGpusPerSku: z.record(z.string(), z.number()),
      gpuHoursExceededAction: z.enum(GPU_HOURS_EXCEEDED_ACTIONS),
    }),
    allowedRegions: z.array(z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Tenant');

const UserLimits = z.strictObject({
  maxSessions: limit.default(null),
  maxGpus: limit.default(null),
  maxGpusPerSku: gpusPerSku.default({}),
});

export const UserCreate = z
  .strictObject({
    email: z.email().max(320),
    role: z.enum(['tenant-admin', 'member']).default('member'),
    limits: UserLimits.default({ maxSessions: null, maxGpus: null, maxGpusPerSku: {} }),
  })
  .openapi('UserCreate');

export const UserPatch = z
  .strictObject({
    role: z.enum(['tenant-admin', 'member']).optional(),
    limits: z
      .strictObject({ maxSessions: limit, maxGpus: limit, maxGpusPerSku: gpusPerSku })
      .partial()
      .optional(),
  })
  .openapi('UserPatch');

export const User = z
  .object({
    id,
    tenantId: id,
    email: z.string(),
    role: z.enum(['tenant-admin', 'member']),
    limits: z.object({
      maxSessions: limit,
      maxGpus: limit,
      maxGpusPerSku: z.record(z.string(), z.number()),
    }),
    createdAt: z.string(),
  })
  .openapi('User');

export const ApiKeyCreate = z
  .strictObject({
    name,
    role: z.enum(['tenant-admin', 'member']),
    user: z.string().min(1).max(320).optional().openapi({
      description: 'id or email of the user the key acts as; required for member keys',
    }),
    expiresAt: timestamp.optional(),
  })
  .openapi('ApiKeyCreate');

export const PlatformApiKeyCreate = z
  .strictObject({
    name,
    role: z.enum(['gateway', 'platform-admin']).openapi({
      description: 'gateway: a regional gateway’s key, which may call /v1/gateway/* only',
    }),
    expiresAt: timestamp.optional(),
  })
  .openapi('PlatformApiKeyCreate');

export const ApiKey = z
  .object({
    id,
    tenantId: id.nullable(),
    userId: id.nullable(),
    name: z.string(),
    role: z.enum(API_KEY_ROLES),
    prefix: z.string().openapi({ description: 'first characters of the token, to recognise it' }),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .openapi('ApiKey');

export const ApiKeyCreated = ApiKey.extend({
  token: z.string().openapi({ description: 'shown once; only its hash is stored' }),
}).openapi('ApiKeyCreated');

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name');

const Resources = z.strictObject({
  cpu: quantity('2').default('1'),
  memory: quantity('4Gi').default('2Gi'),
  gpus: z
    .strictObject({
      sku: region.openapi({ example: 'a100' }),
      count: z.number().int().min(1).max(64),
    })
    .nullable()
    .default(null),
});

// What platform teams template for an app on Kubernetes, in Kubernetes' own shapes (the
// Session CRD holds the same, operator/src/crd.ts `AppScheduling`, and checks it again).
const labelKey = z
  .string()
  .max(317)
  .regex(
    /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
    'a label or taint key such as nvidia.com/gpu or dedicated',
  );
const labelValue = z
  .string()
  .max(63)
  .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, 'a label value (letters, digits, -_.)');
const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a Kubernetes object name (lowercase, digits, -.)');
const matchExpressions = z
  .array(
    z
      .strictObject({
        key: labelKey,
        operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt']),
        values: z.array(labelValue).max(64).optional(),
      })
      .refine(
        (e) =>
          ['Exists', 'DoesNotExist'].includes(e.operator)
            ? !e.values?.length
            : (e.values?.length ?? 0) > 0,
        'In, NotIn, Gt and Lt need values; Exists and DoesNotExist take none',
      ),
  )
  .min(1)
  .max(16);
const cidr = z.union([z.cidrv4(), z.cidrv6()], { error: 'a CIDR block such as 10.0.5.0/24' });

export const AppScheduling = z
  .strictObject({
    tolerations: z
      .array(
        z
          .strictObject({
            key: labelKey.optional(),
            operator: z.enum(['Exists', 'Equal']).optional(),
            value: labelValue.optional(),
            effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
            tolerationSeconds: z.number().int().min(0).optional(),
          })
          .refine((t) => !(t.operator === 'Exists' && t.value), 'Exists takes no value')
          .refine(
            (t) => t.tolerationSeconds === undefined || t.effect === 'NoExecute',
            'tolerationSeconds is for the NoExecute effect',
          ),
      )
      .max(32)
      .optional(),
    nodeAffinity: z
      .strictObject({
        required: z.array(z.strictObject({ matchExpressions })).max(16).optional(),
        preferred: z
          .array(z.strictObject({ weight: z.number().int().min(1).max(100), matchExpressions }))
          .max(16)
          .optional(),
      })
      .optional(),
    imagePullSecrets: z.array(objectName).max(8).optional(),
    shmSize: quantity('2Gi').optional(),
    envFromSecrets: z
      .array(
        z.strictObject({
          name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'an environment variable name'),
          secret: objectName,
          key: z
            .string()
            .min(1)
            .max(253)
            .regex(/^[-._a-zA-Z0-9]+$/, 'a Secret key (letters, digits, -._)'),
        }),
      )
      .max(64)
      .optional(),
    volumes: z
      .array(
        z
          .strictObject({
            name: z
              .string()
              .regex(/^[a-z0-9]([a-z0-9-]{0,56}[a-z0-9])?$/, 'lowercase letters, digits, -; 1–58'),
            mountPath: z
              .string()
              .min(2)
              .max(1024)
              .regex(/^\/(?!.*(^|\/)\.\.(\/|$))/, 'an absolute path without ..'),
            secret: objectName.optional(),
            configMap: objectName.optional(),
            claim: objectName.optional(),
          })
          .refine(
            (v) => [v.secret, v.configMap, v.claim].filter(Boolean).length === 1,
            'a volume has exactly one of secret, configMap and claim',
          ),
      )
      .max(16)
      .refine((vs) => new Set(vs.map((v) => v.name)).size === vs.length, 'volume names are unique')
      .optional(),
    egress: z
      .array(
        z.strictObject({
          cidr,
          ports: z
            .array(
              z.strictObject({
                protocol: z.enum(['TCP', 'UDP']),
                port: z.number().int().min(1).max(65_535),
              }),
            )
            .max(16)
            .optional(),
        }),
      )
      .max(32)
      .optional(),
  })
  .openapi('AppScheduling', {
    description:
      'Kubernetes only: tolerations (GPU sessions tolerate nvidia.com/gpu anyway), node affinity, image pull Secrets, /dev/shm size, env from Secrets, read-only data volumes and extra egress',
  });

const VideoCodecs = z
  .array(z.enum(VIDEO_CODECS))
  .min(1)
  .max(VIDEO_CODECS.length)
  .refine((codecs) => new Set(codecs).size === codecs.length, 'each codec at most once')
  .openapi({
    description:
      'video codecs in order of preference: the stream uses the first one the browser can decode (none of them: the stream is refused). H264-444 and VP9-444 are H.264 and VP9 with full colour resolution (4:4:4), sharper coloured text and lines for more CPU and bits; list one first to use it wherever the browser decodes it. null: H264, VP8, VP9, AV1, then H264-444 and VP9-444 (used only when the viewer asks for them)',
    example: ['AV1', 'VP9', 'H264'],
  });

// Without defaults, so that a PATCH changes only what it names.
const AppFields = {
  slug,
  name,
  description: z.string().max(2000),
  icon: z.string().max(8192).nullable().openapi({ description: 'URL or data: URI' }),
  image: z.string().min(1).max(512).nullable().openapi({
    description: 'container image, for Kubernetes clusters',
  }),
  command: z
    .array(z.string().min(1).max(4096))
    .min(1)
    .max(256)
    .nullable()
    .openapi({ description: 'argv, for the local runner', example: ['xterm'] }),
  resources: Resources,
  class: slug.nullable().openapi({
    description: 'pricing class: rate cards can price a class of apps (classSessionHour)',
    example: 'workstation',
  }),
  persistence: z.strictObject({ size: quantity('10Gi') }).nullable(),
  idleTimeoutSeconds: z.number().int().min(60).max(31_536_000).nullable(),
  maxLifetimeSeconds: z.number().int().min(60).max(31_536_000).nullable(),
  env: z
    .record(envName, z.string().max(32_768))
    .refine((e) => Object.keys(e).length <= 200, 'at most 200 variables'),
  scheduling: AppScheduling.nullable(),
  videoCodecs: VideoCodecs.nullable(),
};

export const AppCreate = z
  .strictObject({
    ...AppFields,
    description: AppFields.description.default(''),
    icon: AppFields.icon.default(null),
    image: AppFields.image.default(null),
    command: AppFields.command.default(null),
    resources: Resources.default({ cpu: '1', memory: '2Gi', gpus: null }),
    class: AppFields.class.default(null),
    persistence: AppFields.persistence.default(null),
    idleTimeoutSeconds: AppFields.idleTimeoutSeconds.default(null),
    maxLifetimeSeconds: AppFields.maxLifetimeSeconds.default(null),
    env: AppFields.env.default({}),
    scheduling: AppFields.scheduling.default(null),
    videoCodecs: AppFields.videoCodecs.default(null),
  })
  .refine((a) => a.image !== null || a.command !== null, {
    message: 'an app needs an image (Kubernetes) or a command (local runner)',
    path: ['image'],
  })
  .openapi('AppCreate');

export const AppPatch = z
  .strictObject(AppFields)
  .omit({ slug: true })
  .partial()
  .openapi('AppPatch');

export const App = z
  .object({
    id,
    tenantId: id,
    slug: z.string(),
    name: z.string(),
    description: z.string(),
    icon: z.string().nullable(),
    image: z.string().nullable(),
    command: z.array(z.string()).nullable(),
    resources: z.object({
      cpu: z.string(),
      memory: z.string(),
      gpus: z.object({ sku: z.string(), count: z.number() }).nullable(),
    }),
    class: z.string().nullable(),
    persistence: z.object({ size: z.string() }).nullable(),
    idleTimeoutSeconds: z.number().nullable(),
    maxLifetimeSeconds: z.number().nullable(),
    env: z.record(z.string(), z.string()),
    scheduling: AppScheduling.nullable(),
    videoCodecs: z.array(z.enum(VIDEO_CODECS)).nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('App');

const GpuInventory = z
  .array(z.strictObject({ sku: region, count: z.number().int().min(1).max(1_000_000) }))
  .max(64);

const Kubeconfig = z
  .string()
  .min(1)
  .max(60_000)
  .openapi({
    description:
      'write-only: the kubeconfig (YAML) that reaches the cluster’s API server, with a ' +
      'token or a client certificate; stored encrypted, never returned',
  });

export const ClusterCreate = z
  .strictObject({
    name: slug,
    region,
    driver: z.enum(['local', 'kubernetes']),
    kubeconfig: Kubeconfig.optional(),
    gpus: GpuInventory.default([]).openapi({
      description: 'local clusters; a Kubernetes cluster’s GPUs are read from its nodes',
    }),
    maxSessions: limit.default(null).openapi({ description: 'null: no session limit' }),
    labels: z
      .record(z.string().max(63), z.string().max(63))
      .default({})
      .openapi({ description: 'e.g. floe.dev/storage-class: the StorageClass of home volumes' }),
  })
  .refine((c) => c.driver === 'kubernetes' || c.kubeconfig === undefined, {
    message: 'only kubernetes clusters take a kubeconfig',
    path: ['kubeconfig'],
  })
  .openapi('ClusterCreate');

export const ClusterPatch = z
  .strictObject({
    region: region.optional(),
    kubeconfig: Kubeconfig.optional().openapi({ description: 'replaces the stored one' }),
    gpus: GpuInventory.optional(),
    maxSessions: limit.optional(),
    labels: z.record(z.string().max(63), z.string().max(63)).optional(),
  })
  .openapi('ClusterPatch');

export const ClusterGpus = z
  .object({
    sku: z.string(),
    allocatable: z.number().openapi({ description: 'on ready, schedulable nodes' }),
    usedByOthers: z.number().openapi({ description: 'requested by pods that are not Floe’s' }),
    usedByFloe: z.number().openapi({ description: 'held by Floe’s active sessions there' }),
    free: z.number(),
  })
  .openapi('ClusterGpus');

export const Cluster = z
  .object({
    id,
    name: z.string(),
    region: z.string(),
    driver: z.enum(['local', 'kubernetes']),
    apiServer: z.string().nullable().openapi({ description: 'the Kubernetes API server’s URL' }),
    credentials: z
      .enum(['kubeconfig'])
      .nullable()
      .openapi({ description: 'what is stored (encrypted) to reach it; never returned' }),
    status: z.enum(['connected', 'connecting', 'unreachable', 'detached']).openapi({
      description:
        'whether this control plane reaches it now; detached: no driver here (a Kubernetes ' +
        'cluster registered without credentials, or whose kubeconfig cannot be opened)',
    }),
    error: z.string().nullable().openapi({ description: 'why it is not connected' }),
    gpus: z.array(z.object({ sku: z.string(), count: z.number() })).openapi({
      description: 'the registered inventory (local clusters)',
    }),
    capacity: z
      .object({ gpus: z.array(ClusterGpus) })
      .nullable()
      .openapi({ description: 'live, as the cluster’s driver sees it; null: no driver here' }),
    maxSessions: limit,
    labels: z.record(z.string(), z.string()),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Cluster');

export const SessionState = z.enum(SESSION_STATES).openapi('SessionState');

export const SessionCreate = z
  .strictObject({
    app: z.string().min(1).max(100).openapi({ description: 'app slug or id' }),
    user: z.string().min(1).max(320).optional().openapi({
      description: 'user id or email; defaults to the user of the API key',
    }),
    region: region.optional().openapi({ description: 'preferred region' }),
  })
  .openapi('SessionCreate');

export const SessionEvent = z
  .object({
    from: z.union([SessionState, z.null()]),
    to: SessionState,
    reason: z.string().nullable(),
    at: z.string(),
  })
  .openapi('SessionEvent');

export const Session = z
  .object({
    id,
    tenantId: id,
    userId: id,
    appId: id,
    clusterId: id.nullable(),
    state: SessionState,
    reason: z.string().nullable(),
    exitCode: z.number().nullable(),
    gpus: z.object({ sku: z.string(), count: z.number() }).nullable(),
    endpoint: z.string().nullable(),
    createdAt: z.string(),
    updatedAt: z.string(),
    events: z.array(SessionEvent).optional(),
  })
  .openapi('Session');

export const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z.uuid().optional().openapi({ description: 'nextCursor of the previous page' }),
});

export const SessionListQuery = ListQuery.extend({
  state: z
    .string()
    .regex(/^[a-z,]+$/)
    .optional()
    .openapi({ description: 'comma-separated states, or `active`', example: 'running,starting' }),
  user: id.optional(),
  app: id.optional(),
  cluster: id.optional(),
});

export const page = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() }).openapi(name);

export const UsageQuery = z.object({
  from: timestamp.optional().openapi({ description: 'default: start of this month (UTC)' }),
  to: timestamp.optional().openapi({ description: 'default: now' }),
});

export const UsageRow = z
  .object({
    userId: id,
    email: z.string(),
    appId: id,
    app: z.string().openapi({ description: 'the app’s slug; empty when it was removed' }),
    appName: z.string().openapi({ description: 'the app’s display name; empty when removed' }),
    gpuSku: z.string().nullable(),
    sessions: z.number(),
    sessionSeconds: z.number(),
    gpuSeconds: z.number(),
  })
  .openapi('UsageRow');

export const Usage = z
  .object({
    from: z.string(),
    to: z.string(),
    items: z.array(UsageRow),
    totals: z.object({ sessionSeconds: z.number(), gpuSeconds: z.number() }),
  })
  .openapi('Usage');

export const QuotaEvent = z
  .object({
    type: z.enum(QUOTA_EVENT_TYPES),
    quota: z.string().openapi({ example: 'tenant.gpuHoursPerMonth' }),
    periodStart: z.string().openapi({ description: 'the month it belongs to (UTC)' }),
    data: z.record(z.string(), z.unknown()).openapi({
      description: 'limitHours, usedHours, ratio, action and period when it was recorded',
    }),
    at: z.string(),
  })
  .openapi('QuotaEvent');

export const QuotaEventList = z.object({ items: z.array(QuotaEvent) }).openapi('QuotaEventList');

// A fully qualified DNS name (lowercased): two labels at least, of letters, digits and
// dashes, the last not all digits (so never an IP address), 253 characters at most. Two
// labels also mean a host name can never equal a tenant's slug or id (neither has a dot),
// so no tenant can claim another's slug or id as its "host name".
const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const hostname = z
  .string()
  .trim()
  .toLowerCase()
  .max(253)
  .regex(
    new RegExp(`^(${LABEL}\\.)+(?![0-9]+$)${LABEL}$`),
    'a fully qualified DNS name such as acme.floe.example',
  );

// An email domain: a DNS name as above.
const emailDomain = hostname.openapi({ example: 'acme.example' });

/**
 * An OpenID issuer's shape: an http(s) URL, no credentials, query or fragment. Which
 * schemes and hosts are allowed depends on the deployment (domain/issuers.ts).
 */
export function isIssuerUrl(s: string): boolean {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return false;
  }
  if (url.username || url.password || url.search || url.hash || /[?#]/.test(s)) return false;
  return url.protocol === 'https:' || url.protocol === 'http:';
}

const RequiredClaim = z
  .strictObject({
    name: z.string().min(1).max(256),
    value: z.string().min(1).max(1024),
  })
  .openapi('RequiredClaim', {
    description:
      'the ID token must carry this claim with this value (or a list that holds it), e.g. ' +
      'an organisation claim of a provider shared by several tenants',
  });

export const IdentityProviderPut = z
  .strictObject({
    issuer: z
      .string()
      .trim()
      .max(2048)
      .refine(isIssuerUrl, 'an https URL, no credentials, query or fragment')
      .openapi({ example: 'https://login.acme.example' }),
    clientId: z.string().min(1).max(512),
    clientSecret: z.string().min(1).max(4096).nullable().optional().openapi({
      description: 'write-only; omitted: the stored one is kept; null: removed (public client)',
    }),
    rolesClaim: z.string().min(1).max(256).default('floe_roles').openapi({
      description: 'the ID token claim (a string or a list of strings) holding the user’s roles',
    }),
    adminRoles: z
      .array(z.string().min(1).max(256))
      .max(100)
      .default(['tenant-admin'])
      .openapi({ description: 'a user with one of these roles is tenant-admin, else member' }),
    hostnames: z.array(hostname).max(50).default([]).openapi({
      description: 'fully qualified host names that select this tenant at the gateway; unique',
    }),
    allowedEmailDomains: z
      .array(emailDomain)
      .max(100)
      .optional()
      .openapi({
        description:
          'only users whose email is in one of these domains (exactly; subdomains are ' +
          'listed on their own) sign in, and not with an email the provider says is ' +
          'unverified; empty: any. Omitted: the stored ones are kept (none for a new one)',
      }),
    requiredClaim: RequiredClaim.nullable().optional().openapi({
      description: 'omitted: the stored one is kept (none for a new one); null: removed',
    }),
  })
  .openapi('IdentityProviderPut');

export const IdentityProvider = z
  .object({
    issuer: z.string(),
    clientId: z.string(),
    hasClientSecret: z.boolean(),
    rolesClaim: z.string(),
    adminRoles: z.array(z.string()),
    hostnames: z.array(z.string()),
    allowedEmailDomains: z.array(z.string()),
    requiredClaim: RequiredClaim.nullable(),
    updatedAt: z.string(),
  })
  .openapi('IdentityProvider');

const TenantRef = z.object({ id, slug: z.string(), name: z.string() }).openapi('TenantRef');

export const GatewayTenant = z
  .object({
    tenant: TenantRef,
    identityProvider: z
      .object({
        issuer: z.string(),
        clientId: z.string(),
        clientSecret: z.string().nullable(),
        rolesClaim: z.string(),
        adminRoles: z.array(z.string()),
        allowedEmailDomains: z.array(z.string()),
        requiredClaim: RequiredClaim.nullable(),
      })
      .nullable(),
  })
  .openapi('GatewayTenant');

export const GrantRole = z
  .enum(GRANT_ROLES)
  .openapi({ description: '`viewer` watches only; `control` may send input too' });

/** A live grant as a gateway needs it to let a viewer in (and the streamer in what role). */
export const LiveGrant = z
  .object({
    id,
    kind: z.enum(GRANT_KINDS),
    userId: id.nullable().openapi({ description: 'null for a link' }),
    role: GrantRole,
    expiresAt: z.iso.datetime().nullable(),
  })
  .openapi('LiveGrant');

export const GatewaySession = z
  .object({
    id,
    tenantId: id,
    userId: id,
    state: SessionState,
    endpoint: z.string().nullable().openapi({ description: 'null unless running' }),
    reason: z
      .string()
      .nullable()
      .openapi({ description: 'why it ended (stopped or failed); null otherwise' }),
    lifetime: z
      .object({
        seconds: z.number().int().openapi({ description: 'the app’s maximum lifetime' }),
        endsAt: z.string().openapi({ description: 'when it ends (its first running + seconds)' }),
      })
      .nullable()
      .openapi({
        description:
          'a running session’s maximum lifetime, for the stream page’s warning; null when its app has none or it is not running',
      }),
    grants: z.array(LiveGrant).openapi({
      description: 'who else may watch or control it: its live grants (running sessions only)',
    }),
  })
  .openapi('GatewaySession');

// ---- sharing (issue 19) ----

export const SessionGrant = z
  .object({
    id,
    sessionId: id,
    kind: z.enum(GRANT_KINDS),
    user: z
      .object({ id, email: z.string() })
      .nullable()
      .openapi({ description: 'whom it is for; null for a link' }),
    role: GrantRole,
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime().nullable(),
    revokedAt: z.iso.datetime().nullable(),
  })
  .openapi('SessionGrant');

const MAX_GRANT_SECONDS = 7 * 86_400;
const grantSeconds = z
  .number()
  .int()
  .min(60)
  .max(MAX_GRANT_SECONDS)
  .openapi({ description: 'seconds until it expires (60 to 7 days)' });

export const SessionGrantCreate = z
  .discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('user'),
      user: z
        .string()
        .min(1)
        .max(320)
        .openapi({ description: 'a user of the tenant: id or email' }),
      role: GrantRole,
      expiresInSeconds: grantSeconds.optional(),
    }),
    z.strictObject({
      kind: z.literal('link'),
      role: GrantRole,
      expiresInSeconds: grantSeconds.default(3600),
    }),
  ])
  .openapi('SessionGrantCreate');

export const VIEWER_ACTIONS = ['give-control', 'take-control', 'remove'] as const;

export const SessionViewerAction = z
  .strictObject({
    action: z.enum(VIEWER_ACTIONS),
    /** the owner who did it */
    by: id,
    /** the viewer it was done to */
    viewer: id,
  })
  .openapi('SessionViewerAction');

export const SessionJoin = z
  .strictObject({
    userId: id,
    role: z.enum(['owner', 'viewer', 'control']),
    grantId: id.nullable(),
  })
  .openapi('SessionJoin');

export const Me = z
  .object({
    role: z.enum(API_KEY_ROLES),
    // a union, not .nullable(): that renders as allOf [TenantRef, …], which null never matches
    tenant: z.union([TenantRef, z.null()]),
    user: z.object({ id, email: z.string(), name: z.string().optional() }).nullable(),
  })
  .openapi('Me');
