// The `Session` custom resource (sessions.floe.dev/v1alpha1): the contract between the
// control plane, which writes a Session into the tenant's namespace of the chosen cluster
// and deletes it to stop the session, and the operator, which runs it and reports status.
// This file has no runtime dependencies so that control/ can import it freely.

export const GROUP = 'floe.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'Session';
export const PLURAL = 'sessions';
/** The Session kind's REST coordinates (a `Kind` of @floe/kube/resources). */
export const SESSION_RESOURCE = { group: GROUP, version: VERSION, plural: PLURAL } as const;

/** Labels on every object Floe writes; selectors of the informers. */
export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  session: 'floe.dev/session',
  tenant: 'floe.dev/tenant',
  user: 'floe.dev/user',
  app: 'floe.dev/app',
} as const;
/** The value of `app.kubernetes.io/managed-by` on objects the operator owns. */
export const MANAGED_BY_OPERATOR = 'floe-operator';
/** The value of `app.kubernetes.io/managed-by` on Sessions and namespaces the control plane writes. */
export const MANAGED_BY_CONTROL = 'floe-control';
/** Node label carrying a GPU node's SKU (KWOK's nodes in the testbed carry it too). */
export const GPU_SKU_LABEL = 'floe.dev/gpu-sku';
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** The operator's finalizer: its owned objects are gone before the Session is. */
export const FINALIZER = 'floe.dev/cleanup';

/** The namespace of a tenant's sessions in every cluster: by id, as slugs may be reused. */
export function tenantNamespace(tenantId: string): string {
  return `floe-t-${tenantId}`;
}

/** Names of the objects a Session owns (DNS-1035 labels: they must start with a letter). */
export function podName(sessionName: string): string {
  return `floe-${sessionName}`;
}

/** The home volume of one user's app: it outlives sessions so a relaunch resumes there. */
export function homeClaimName(userId: string, appSlug: string): string {
  return `home-${userId}-${appSlug}`;
}

export interface SessionSpec {
  tenant: {
    id: string;
    /** human name, for `kubectl get` */
    name: string;
    /** the tenant's GPU quota (all SKUs); mirrored into a ResourceQuota of its namespace */
    maxGpus?: number | null;
  };
  user: { id: string; name?: string };
  app: {
    slug: string;
    image: string;
    command?: string[];
    args?: string[];
    env?: Record<string, string>;
    resources: {
      cpu: string;
      memory: string;
      gpu?: { count: number; sku: string } | null;
    };
    /** the image brings its own X server; otherwise the pod gets an X server container */
    hasXServer?: boolean;
    /** where and how the pod may run, as the app's template says (AppScheduling) */
    scheduling?: AppScheduling;
  };
  /** a home volume per (user, app), mounted at /home/floe; none: an emptyDir */
  persistence?: { size: string; storageClassName?: string } | null;
  timeouts?: {
    /** Pending longer than this (unschedulable, pulling, ...) fails the session */
    startSeconds?: number;
    /** no input for this long stops the session (the operator alone sees a pod's input) */
    idleSeconds?: number | null;
    // the maximum lifetime is the control plane's, counted from its first running
    // (control/src/sessions/next-step.ts): one clock, enforced in one place
  };
  streamer?: {
    image?: string;
    codecs?: string[];
    maxKbps?: number;
    width?: number;
    height?: number;
    /** data-loss prevention, enforced by the streamer (absent: allowed) */
    clipboard?: boolean;
    files?: boolean;
    /** largest file either way, and most the home may hold after an upload (bytes) */
    maxFileBytes?: number;
    maxHomeBytes?: number;
  };
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values?: string[];
}

/**
 * What platform teams put in an app's template beyond image and resources: Kubernetes'
 * own shapes where there is one, so that they read as in any pod spec.
 */
export interface AppScheduling {
  tolerations?: Toleration[];
  /** every term's requirements must hold (terms are ORed, as in a pod's nodeAffinity) */
  nodeAffinity?: {
    required?: { matchExpressions: NodeSelectorRequirement[] }[];
    preferred?: { weight: number; matchExpressions: NodeSelectorRequirement[] }[];
  };
  /** Secrets (of the tenant namespace) holding registry credentials for the app's image */
  imagePullSecrets?: string[];
  /** size of /dev/shm in the app container (memory-backed); Kubernetes' default is 64Mi */
  shmSize?: string;
  /** environment variables of the app taken from Secrets of the tenant namespace */
  envFromSecrets?: { name: string; secret: string; key: string }[];
  /** extra read-only mounts in the app container: a Secret, ConfigMap or existing claim */
  volumes?: {
    name: string;
    mountPath: string;
    secret?: string;
    configMap?: string;
    claim?: string;
  }[];
  /** destinations the app may reach besides DNS, the TURN fleet and the public internet */
  egress?: { cidr: string; ports?: { protocol: 'TCP' | 'UDP'; port: number }[] }[];
}

export const SESSION_PHASES = ['Pending', 'Starting', 'Running', 'Stopped', 'Failed'] as const;
export type SessionPhase = (typeof SESSION_PHASES)[number];

export interface SessionCondition {
  type: 'Scheduled' | 'Ready' | 'Stopped';
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
}

export interface SessionStatus {
  phase?: SessionPhase;
  /** machine-readable cause of the phase (Unschedulable, ErrImagePull, IdleTimeout, ...) */
  reason?: string;
  message?: string;
  conditions?: SessionCondition[];
  /** where the streamer serves, once Running */
  endpoint?: string;
  node?: string;
  startedAt?: string;
  runningAt?: string;
  finishedAt?: string;
  lastInputAt?: string;
  /** exit code of the container that ended the session, when one did */
  exitCode?: number;
  observedGeneration?: number;
}

export interface Session {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: {
    name: string;
    namespace: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string | Date;
    creationTimestamp?: string | Date;
  };
  spec: SessionSpec;
  status?: SessionStatus;
}

// ---------------------------------------------------------------------------------------
// The CustomResourceDefinition, with a structural schema: the API server rejects a Session
// that does not match, so neither the operator nor the control plane sees a malformed one.

const quantity = {
  'x-kubernetes-int-or-string': true,
  anyOf: [{ type: 'integer' }, { type: 'string' }],
  pattern: '^[0-9]+(\\.[0-9]+)?([EPTGMK]i?|[mkMGTPE])?$',
};
const name63 = {
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
};
const seconds = { type: 'integer', minimum: 1, maximum: 31_536_000 };
/** a label or taint key: an optional DNS-subdomain prefix and a name */
const labelKey = {
  type: 'string',
  maxLength: 317,
  pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$',
};
const labelValue = {
  type: 'string',
  maxLength: 63,
  pattern: '^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$',
};
const dnsSubdomain = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$',
};
const matchExpressions = {
  type: 'array',
  minItems: 1,
  maxItems: 16,
  items: {
    type: 'object',
    required: ['key', 'operator'],
    properties: {
      key: labelKey,
      operator: { type: 'string', enum: ['In', 'NotIn', 'Exists', 'DoesNotExist', 'Gt', 'Lt'] },
      values: { type: 'array', maxItems: 64, items: labelValue },
    },
  },
};
/** The CRD's half of the app template's checks (control/src/http/schemas.ts has the other). */
const schedulingSchema = {
  type: 'object',
  properties: {
    tolerations: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        properties: {
          key: labelKey,
          operator: { type: 'string', enum: ['Exists', 'Equal'] },
          value: labelValue,
          effect: { type: 'string', enum: ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
          tolerationSeconds: { type: 'integer', minimum: 0 },
        },
      },
    },
    nodeAffinity: {
      type: 'object',
      properties: {
        required: {
          type: 'array',
          maxItems: 16,
          items: {
            type: 'object',
            required: ['matchExpressions'],
            properties: { matchExpressions },
          },
        },
        preferred: {
          type: 'array',
          maxItems: 16,
          items: {
            type: 'object',
            required: ['weight', 'matchExpressions'],
            properties: {
              weight: { type: 'integer', minimum: 1, maximum: 100 },
              matchExpressions,
            },
          },
        },
      },
    },
    imagePullSecrets: { type: 'array', maxItems: 8, items: dnsSubdomain },
    shmSize: quantity,
    envFromSecrets: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        required: ['name', 'secret', 'key'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' },
          secret: dnsSubdomain,
          key: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[-._a-zA-Z0-9]+$' },
        },
      },
    },
    volumes: {
      type: 'array',
      maxItems: 16,
      items: {
        type: 'object',
        required: ['name', 'mountPath'],
        properties: {
          // the pod's volume is data-<name>, a DNS label of at most 63
          name: { ...name63, maxLength: 58 },
          mountPath: { type: 'string', minLength: 2, maxLength: 1024, pattern: '^/' },
          secret: dnsSubdomain,
          configMap: dnsSubdomain,
          claim: dnsSubdomain,
        },
        // exactly one source
        oneOf: [{ required: ['secret'] }, { required: ['configMap'] }, { required: ['claim'] }],
      },
    },
    egress: {
      type: 'array',
      maxItems: 32,
      items: {
        type: 'object',
        required: ['cidr'],
        properties: {
          cidr: { type: 'string', maxLength: 43, pattern: '^[0-9a-fA-F:.]+/[0-9]{1,3}$' },
          ports: {
            type: 'array',
            maxItems: 16,
            items: {
              type: 'object',
              required: ['protocol', 'port'],
              properties: {
                protocol: { type: 'string', enum: ['TCP', 'UDP'] },
                port: { type: 'integer', minimum: 1, maximum: 65_535 },
              },
            },
          },
        },
      },
    },
  },
};
const time = { type: 'string', format: 'date-time' };

const specSchema = {
  type: 'object',
  required: ['tenant', 'user', 'app'],
  properties: {
    tenant: {
      type: 'object',
      required: ['id', 'name'],
      properties: {
        id: { type: 'string', minLength: 1, maxLength: 36 },
        name: { type: 'string', minLength: 1, maxLength: 200 },
        maxGpus: { type: 'integer', minimum: 0, nullable: true },
      },
    },
    user: {
      type: 'object',
      required: ['id'],
      properties: {
        id: { type: 'string', minLength: 1, maxLength: 36 },
        name: { type: 'string', maxLength: 320 },
      },
    },
    app: {
      type: 'object',
      required: ['slug', 'image', 'resources'],
      properties: {
        slug: name63,
        image: { type: 'string', minLength: 1, maxLength: 1024 },
        command: { type: 'array', maxItems: 256, items: { type: 'string' } },
        args: { type: 'array', maxItems: 256, items: { type: 'string' } },
        env: { type: 'object', maxProperties: 256, additionalProperties: { type: 'string' } },
        resources: {
          type: 'object',
          required: ['cpu', 'memory'],
          properties: {
            cpu: quantity,
            memory: quantity,
            gpu: {
              type: 'object',
              nullable: true,
              required: ['count', 'sku'],
              properties: {
                count: { type: 'integer', minimum: 1, maximum: 16 },
                sku: name63,
              },
            },
          },
        },
        hasXServer: { type: 'boolean' },
        scheduling: schedulingSchema,
      },
    },
    persistence: {
      type: 'object',
      nullable: true,
      required: ['size'],
      properties: { size: quantity, storageClassName: { type: 'string', maxLength: 253 } },
    },
    timeouts: {
      type: 'object',
      properties: {
        startSeconds: seconds,
        idleSeconds: { ...seconds, nullable: true },
      },
    },
    streamer: {
      type: 'object',
      properties: {
        image: { type: 'string', minLength: 1, maxLength: 1024 },
        codecs: {
          type: 'array',
          maxItems: 6,
          items: {
            type: 'string',
            enum: ['H264', 'VP8', 'VP9', 'AV1', 'H264-444', 'VP9-444'],
          },
        },
        maxKbps: { type: 'integer', minimum: 100, maximum: 200_000 },
        width: { type: 'integer', minimum: 320, maximum: 7680 },
        height: { type: 'integer', minimum: 240, maximum: 4320 },
        clipboard: { type: 'boolean' },
        files: { type: 'boolean' },
        maxFileBytes: { type: 'integer', minimum: 0, maximum: 2 ** 50 },
        maxHomeBytes: { type: 'integer', minimum: 0, maximum: 2 ** 50 },
      },
    },
  },
};

const statusSchema = {
  type: 'object',
  properties: {
    phase: { type: 'string', enum: [...SESSION_PHASES] },
    reason: { type: 'string' },
    message: { type: 'string' },
    conditions: {
      type: 'array',
      'x-kubernetes-list-type': 'map',
      'x-kubernetes-list-map-keys': ['type'],
      items: {
        type: 'object',
        required: ['type', 'status', 'lastTransitionTime'],
        properties: {
          type: { type: 'string' },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
          reason: { type: 'string' },
          message: { type: 'string' },
          lastTransitionTime: time,
        },
      },
    },
    endpoint: { type: 'string' },
    node: { type: 'string' },
    startedAt: time,
    runningAt: time,
    finishedAt: time,
    lastInputAt: time,
    exitCode: { type: 'integer', format: 'int32' },
    observedGeneration: { type: 'integer', format: 'int64' },
  },
};

export const sessionCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${PLURAL}.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: {
      plural: PLURAL,
      singular: 'session',
      kind: KIND,
      listKind: 'SessionList',
      shortNames: ['fs'],
      categories: ['floe'],
    },
    versions: [
      {
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Tenant', type: 'string', jsonPath: '.spec.tenant.name' },
          { name: 'User', type: 'string', jsonPath: '.spec.user.name' },
          { name: 'App', type: 'string', jsonPath: '.spec.app.slug' },
          { name: 'Phase', type: 'string', jsonPath: '.status.phase' },
          { name: 'Node', type: 'string', jsonPath: '.status.node' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
          { name: 'Endpoint', type: 'string', jsonPath: '.status.endpoint', priority: 1 },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            required: ['spec'],
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: specSchema,
              status: statusSchema,
            },
          },
        },
      },
    ],
  },
} as const;
