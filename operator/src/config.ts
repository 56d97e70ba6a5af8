// The operator's configuration: flags, then environment variables (FLOE_OPERATOR_*), then
// defaults; validated once with zod, with a clear error on a bad value.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Toleration } from './crd.ts';
import { defaultDesiredSettings } from './desired.ts';
import { floeImage } from './images.ts';

const seconds = z.coerce.number().positive();

/** `k=v,k2=v2` (a flag or variable) or an object (a config file) → labels */
const labels = (fallback: string) =>
  z
    .union([z.string(), z.record(z.string(), z.string())])
    .default(fallback)
    .transform((s, ctx) => {
      if (typeof s !== 'string') return s;
      const out: Record<string, string> = {};
      for (const pair of s.split(',').filter(Boolean)) {
        const [k, v] = pair.split('=');
        if (!k || v === undefined) {
          ctx.addIssue({ code: 'custom', message: `not key=value: ${pair}` });
          return z.NEVER;
        }
        out[k.trim()] = v.trim();
      }
      return out;
    });

const cidrs = z
  .union([z.string(), z.array(z.string())])
  .default('')
  .transform((s) => (Array.isArray(s) ? s : s.split(',')).map((c) => c.trim()).filter(Boolean))
  .pipe(z.array(z.union([z.cidrv4(), z.cidrv6()], { error: 'a CIDR block, e.g. 10.0.5.0/24' })));

export const configSchema = z.object({
  kubeconfig: z.string().optional(),
  workers: z.coerce.number().int().min(1).max(256).default(16),
  resync: seconds.default(300),
  metricsAddr: z
    .string()
    .regex(/^[^:]*:\d+$/, 'host:port, e.g. 127.0.0.1:9090 (port 0: any free port)')
    .default('127.0.0.1:9090'),
  /** prefix of the default images (`<registry>/floe/<name>:<tag>`); none: `floe/<name>:<tag>` */
  imageRegistry: z
    .string()
    .regex(/^[^\s:/][^\s]*$/, 'a registry (and path), e.g. registry.example:5000 or ghcr.io/acme')
    .optional(),
  streamerImage: z.string().min(1).optional(),
  xserverImage: z.string().min(1).optional(),
  istioGateway: z
    .string()
    .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'namespace/name of an Istio Gateway')
    .default('istio-system/floe-gateway'),
  istioHosts: z
    .union([z.string(), z.array(z.string())])
    .default('*')
    .transform((s) => (Array.isArray(s) ? s : s.split(',')).map((h) => h.trim()).filter(Boolean)),
  ingressNamespace: z.string().min(1).default('istio-system'),
  ingressPodLabels: labels('istio=ingressgateway'),
  operatorNamespace: z.string().min(1).default('floe-system'),
  operatorPodLabels: labels('app.kubernetes.io/name=floe-operator'),
  /** empty: no Prometheus scrapes the streamers (no ingress rule for it) */
  prometheusNamespace: z
    .string()
    .nullable()
    .default('monitoring')
    .transform((s) => s || null),
  prometheusPodLabels: labels('app.kubernetes.io/name=prometheus'),
  clusterDomain: z.string().min(1).default('cluster.local'),
  egressInternet: z
    .union([z.boolean(), z.enum(['true', 'false'])])
    .default(true)
    .transform((v) => v === true || v === 'true'),
  egressAllowCidrs: cidrs,
  turnCidrs: cidrs,
  /** a DRA DeviceClass (gpu.nvidia.com): app and streamer share the GPU (NVENC); empty: none */
  gpuDeviceClass: z
    .string()
    .regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$/, 'a DeviceClass name such as gpu.nvidia.com')
    .nullable()
    .default(null)
    .transform((s) => s || null),
  /**
   * The gateway whose viewer tokens open each session's signalling: its issuer and JWKS URL,
   * set together; the operator copies the public keys into each session's ConfigMap
   */
  viewerIssuer: z
    .union([z.url(), z.literal('')])
    .nullable()
    .default(null)
    .transform((s) => s || null),
  viewerJwksUrl: z
    .union([z.url({ protocol: /^https?$/ }), z.literal('')])
    .nullable()
    .default(null)
    .transform((s) => s || null),
  viewerKeysRefresh: seconds.default(60),
  idleCheck: seconds.default(30),
  shutdownWarning: z.coerce.number().int().min(0).max(86_400).default(60),
  leaderElect: z
    .union([z.boolean(), z.enum(['true', 'false'])])
    .default(true)
    .transform((v) => v === true || v === 'true'),
  leaderElectionNamespace: z.string().min(1).default('floe-system'),
  leaseDuration: seconds.default(15),
  renewDeadline: seconds.default(10),
  retryPeriod: seconds.default(2),
  id: z.string().min(1).default(`${hostname()}-${process.pid}`),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** The parsed configuration: the images are the built ones (operator/src/images.ts) unless named. */
export type OperatorConfig = Omit<
  z.output<typeof configSchema>,
  'streamerImage' | 'xserverImage'
> & {
  streamerImage: string;
  xserverImage: string;
  /** GPU nodes' taint (nvidia.com/gpu:NoSchedule), tolerated by GPU sessions */
  gpuTolerations: Toleration[];
};
export type OperatorConfigInput = z.input<typeof configSchema>;

/** Flag name → [config key, environment variable, help]. */
export const FLAGS = {
  kubeconfig: ['kubeconfig', 'KUBECONFIG', 'kubeconfig file; none: in-cluster service account'],
  workers: ['workers', 'FLOE_OPERATOR_WORKERS', 'concurrent reconciles (16)'],
  resync: ['resync', 'FLOE_OPERATOR_RESYNC', 'seconds between full resyncs of every Session (300)'],
  'metrics-addr': [
    'metricsAddr',
    'FLOE_OPERATOR_METRICS_ADDR',
    'host:port of /metrics, /healthz, /readyz (127.0.0.1:9090)',
  ],
  'image-registry': [
    'imageRegistry',
    'FLOE_OPERATOR_IMAGE_REGISTRY',
    'registry the default images are pulled from (none: floe/<name>:<tag> as `npm run images` tags them)',
  ],
  'streamer-image': [
    'streamerImage',
    'FLOE_OPERATOR_STREAMER_IMAGE',
    'streamer sidecar image when a Session names none (floe/streamer:<tag> under the registry)',
  ],
  'xserver-image': [
    'xserverImage',
    'FLOE_OPERATOR_XSERVER_IMAGE',
    'X server (Xorg dummy) image (floe/xserver:<tag>)',
  ],
  'istio-gateway': [
    'istioGateway',
    'FLOE_OPERATOR_ISTIO_GATEWAY',
    'namespace/name of the ingress Gateway (istio-system/floe-gateway)',
  ],
  'istio-hosts': [
    'istioHosts',
    'FLOE_OPERATOR_ISTIO_HOSTS',
    'comma-separated hosts of the VirtualServices (*)',
  ],
  'ingress-namespace': [
    'ingressNamespace',
    'FLOE_OPERATOR_INGRESS_NAMESPACE',
    'namespace of the ingress gateway pods (istio-system)',
  ],
  'ingress-pod-labels': [
    'ingressPodLabels',
    'FLOE_OPERATOR_INGRESS_POD_LABELS',
    'labels of the ingress gateway pods (istio=ingressgateway)',
  ],
  'operator-namespace': [
    'operatorNamespace',
    'FLOE_OPERATOR_NAMESPACE',
    "namespace of the operator's pods, allowed to probe streamers (floe-system)",
  ],
  'operator-pod-labels': [
    'operatorPodLabels',
    'FLOE_OPERATOR_POD_LABELS',
    "labels of the operator's pods (app.kubernetes.io/name=floe-operator)",
  ],
  'prometheus-namespace': [
    'prometheusNamespace',
    'FLOE_OPERATOR_PROMETHEUS_NAMESPACE',
    "namespace of Prometheus, allowed to scrape streamers' /metrics (monitoring; empty: none)",
  ],
  'prometheus-pod-labels': [
    'prometheusPodLabels',
    'FLOE_OPERATOR_PROMETHEUS_POD_LABELS',
    'labels of the Prometheus pods (app.kubernetes.io/name=prometheus)',
  ],
  'turn-cidrs': [
    'turnCidrs',
    'FLOE_OPERATOR_TURN_CIDRS',
    'comma-separated addresses of the TURN fleet, which session pods send media to',
  ],
  'gpu-device-class': [
    'gpuDeviceClass',
    'FLOE_OPERATOR_GPU_DEVICE_CLASS',
    'DRA DeviceClass of GPUs (gpu.nvidia.com): one claim shared by app and streamer, for NVENC; none: nvidia.com/gpu to the app, x264 in the streamer',
  ],
  'cluster-domain': [
    'clusterDomain',
    'FLOE_OPERATOR_CLUSTER_DOMAIN',
    'DNS domain in status.endpoint (cluster.local)',
  ],
  'egress-internet': [
    'egressInternet',
    'FLOE_OPERATOR_EGRESS_INTERNET',
    'session pods may reach the public internet, never private ranges (true)',
  ],
  'egress-allow-cidrs': [
    'egressAllowCidrs',
    'FLOE_OPERATOR_EGRESS_ALLOW_CIDRS',
    'comma-separated private ranges session pods may reach: a proxy, a licence server',
  ],
  'viewer-issuer': [
    'viewerIssuer',
    'FLOE_OPERATOR_VIEWER_ISSUER',
    "the gateway's issuer (FLOE_GATEWAY_ISSUER): streamers take only its viewer tokens",
  ],
  'viewer-jwks-url': [
    'viewerJwksUrl',
    'FLOE_OPERATOR_VIEWER_JWKS_URL',
    "the gateway's public keys (<gateway>/.well-known/jwks.json), copied into each session's ConfigMap",
  ],
  'viewer-keys-refresh': [
    'viewerKeysRefresh',
    'FLOE_OPERATOR_VIEWER_KEYS_REFRESH',
    "seconds between fetches of the gateway's public keys (60)",
  ],
  'idle-check': [
    'idleCheck',
    'FLOE_OPERATOR_IDLE_CHECK',
    'seconds between asks of a streamer for its last input (30)',
  ],
  'shutdown-warning': [
    'shutdownWarning',
    'FLOE_OPERATOR_SHUTDOWN_WARNING',
    "seconds before an idle stop the session's viewers are warned (60; half the timeout when that is shorter; 0: never)",
  ],
  'leader-elect': [
    'leaderElect',
    'FLOE_OPERATOR_LEADER_ELECT',
    'elect a leader with a Lease (true)',
  ],
  'leader-election-namespace': [
    'leaderElectionNamespace',
    'FLOE_OPERATOR_LEADER_ELECTION_NAMESPACE',
    'namespace of Lease floe-operator (floe-system)',
  ],
  'lease-duration': [
    'leaseDuration',
    'FLOE_OPERATOR_LEASE_DURATION',
    'seconds a Lease holds without renewal (15)',
  ],
  'renew-deadline': [
    'renewDeadline',
    'FLOE_OPERATOR_RENEW_DEADLINE',
    'seconds a leader tries to renew before stepping down (10)',
  ],
  'retry-period': [
    'retryPeriod',
    'FLOE_OPERATOR_RETRY_PERIOD',
    'seconds between Lease attempts (2)',
  ],
  id: ['id', 'FLOE_OPERATOR_ID', 'identity in the Lease (hostname-pid)'],
  'log-level': ['logLevel', 'FLOE_OPERATOR_LOG_LEVEL', 'pino level (info)'],
} as const satisfies Record<string, [keyof OperatorConfig, string, string]>;

/** Parses argv (flags only) and env into a config; throws a readable error. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
    strict: true,
  });
  const raw: Record<string, unknown> = {};
  for (const [flag, [key, envName]] of Object.entries(FLAGS)) {
    const v = (values as Record<string, string | undefined>)[flag] ?? env[envName];
    if (v !== undefined && v !== '') raw[key] = v;
  }
  return parseConfig(raw);
}

export function parseConfig(raw: Record<string, unknown>): OperatorConfig {
  const r = configSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`invalid operator configuration:\n${lines.join('\n')}`);
  }
  if (Boolean(r.data.viewerIssuer) !== Boolean(r.data.viewerJwksUrl)) {
    throw new Error(
      'invalid operator configuration: viewer-issuer and viewer-jwks-url are set together',
    );
  }
  if (r.data.renewDeadline >= r.data.leaseDuration) {
    throw new Error(
      'invalid operator configuration: renew-deadline must be shorter than lease-duration',
    );
  }
  const { streamerImage, xserverImage, ...rest } = r.data;
  return {
    ...rest,
    gpuTolerations: defaultDesiredSettings.gpuTolerations,
    streamerImage: streamerImage ?? floeImage('streamer', rest.imageRegistry),
    xserverImage: xserverImage ?? floeImage('xserver', rest.imageRegistry),
  };
}

export function helpText(): string {
  const rows = Object.entries(FLAGS).map(
    ([flag, [, envName, help]]) =>
      `  --${flag.padEnd(27)} ${help}\n  ${''.padEnd(29)} env ${envName}`,
  );
  return `floe-operator: runs Floe Sessions (sessions.floe.dev) on this cluster

Usage:
  node operator/src/main.ts [flags]          run the operator
  node operator/src/main.ts manifests        print the CRD and RBAC manifests (YAML)
  node operator/src/main.ts install-crd      apply the CRD to the cluster of --kubeconfig
  node operator/src/main.ts --help

Flags (flags override environment variables):
${rows.join('\n')}
`;
}
