// PURE: the objects a Session should have, computed from the Session and the operator's
// settings alone. The reconciler compares and applies them; nothing here does I/O.
import { DENIED_PEER_CIDRS } from '@floe/turn/non-public';
import {
  API_VERSION,
  GPU_RESOURCE,
  GPU_SKU_LABEL,
  homeClaimName,
  KIND,
  LABELS,
  MANAGED_BY_OPERATOR,
  podName,
  type Session,
  type Toleration,
} from './crd.ts';
import { floeImage } from './images.ts';

export interface DesiredSettings {
  /** the streamer sidecar's image when the Session names none */
  streamerImage: string;
  /** the X server container's image (Xorg with the dummy driver) */
  xserverImage: string;
  /** `<namespace>/<name>` of the region's Istio ingress Gateway */
  istioGateway: string;
  /** hosts of the VirtualServices, default ['*'] */
  istioHosts: string[];
  /** where the ingress gateway's pods run, the only source of ingress to a tenant namespace */
  ingressNamespace: string;
  ingressPodLabels: Record<string, string>;
  /** cluster DNS domain of the Service in status.endpoint, default cluster.local */
  clusterDomain: string;
  /** whether session pods may reach the public internet (never private or link-local ranges) */
  egressInternet: boolean;
  /** private ranges session pods may reach all the same: a proxy, a licence server */
  egressAllowCidrs: string[];
  /**
   * The TURN fleet's addresses (its nodes' for a hostNetwork DaemonSet, its load balancer's):
   * the streamer sends media to browsers' relay addresses there, on any relay port.
   */
  turnCidrs: string[];
  /** where the operator's pods run: its idle probe asks each streamer's podIP:8080/healthz */
  operatorNamespace: string;
  operatorPodLabels: Record<string, string>;
  /** where Prometheus runs (it scrapes the streamers' /metrics); null: nobody scrapes */
  prometheusNamespace: string | null;
  prometheusPodLabels: Record<string, string>;
  /** what a GPU session's pod tolerates besides the app's own tolerations (GPU nodes' taint) */
  gpuTolerations: Toleration[];
  /**
   * How the streamer reaches NVENC. null (the device plugin, `nvidia.com/gpu`): the GPU goes
   * to the app container alone, as the plugin hands a device to one container, and the
   * streamer encodes on the CPU (x264). A DRA DeviceClass (NVIDIA's DRA driver:
   * `gpu.nvidia.com`): one ResourceClaim per session that the app and the streamer both
   * reference, so the same GPU is visible to both and the streamer encodes with NVENC.
   * Never NVIDIA_VISIBLE_DEVICES=all on the sidecar: that shows it every GPU of the node,
   * other tenants' included.
   */
  gpuDeviceClass: string | null;
  /**
   * The gateway whose viewer tokens open a session's signalling (its issuer). Set, each pod's
   * streamer checks them against the gateway's public keys in the session's viewer-keys
   * ConfigMap (desiredViewerKeys), which the operator keeps current: no network path from the
   * pod to the gateway. null: a streamer takes any viewer that reaches its port (tests only).
   */
  viewerIssuer: string | null;
  /** seconds before an idle stop the streamer warns its viewers (streamer/src/idle-warning.ts) */
  shutdownWarning: number;
}

export const defaultDesiredSettings: DesiredSettings = {
  streamerImage: floeImage('streamer'),
  xserverImage: floeImage('xserver'),
  istioGateway: 'istio-system/floe-gateway',
  istioHosts: ['*'],
  ingressNamespace: 'istio-system',
  ingressPodLabels: { istio: 'ingressgateway' },
  clusterDomain: 'cluster.local',
  egressInternet: true,
  egressAllowCidrs: [],
  turnCidrs: [],
  operatorNamespace: 'floe-system',
  operatorPodLabels: { 'app.kubernetes.io/name': 'floe-operator' },
  prometheusNamespace: 'monitoring',
  prometheusPodLabels: { 'app.kubernetes.io/name': 'prometheus' },
  // the taint NVIDIA's GPU Operator and the clouds' GPU node pools put on GPU nodes
  gpuTolerations: [{ key: GPU_RESOURCE, operator: 'Exists', effect: 'NoSchedule' }],
  gpuDeviceClass: null,
  viewerIssuer: null,
  shutdownWarning: 60,
};

export const STREAMER_PORT = 8080;
export const NETWORK_POLICY_NAME = 'floe-deny-ingress';
export const EGRESS_POLICY_NAME = 'floe-restrict-egress';
export const RESOURCE_QUOTA_NAME = 'floe-gpu-quota';
const UID = 1000;

/**
 * Paths shared between a session pod's containers. The X socket folder and the X authority
 * cookie go to the X server, the app and the streamer; the PulseAudio socket to the sound
 * server, the app and the streamer; the gamepad folder to the streamer and (read-only) the
 * app. Nothing else is shared.
 */
export const POD_PATHS = {
  x11: '/tmp/.X11-unix',
  home: '/home/floe',
  /** the Secret holding the X authority file (a cookie for display :0, any host) */
  xauthDir: '/run/floe/xauth',
  xauthority: '/run/floe/xauth/Xauthority',
  /** PulseAudio's HOME and runtime folder, and its socket */
  soundDir: '/run/floe/sound',
  soundSocket: '/run/floe/sound/native',
  shm: '/dev/shm',
  /** the gateway's public keys (the viewer-keys ConfigMap), the streamer's alone */
  viewerKeysDir: '/run/floe/viewer',
  viewerKeys: '/run/floe/viewer/jwks.json',
  /**
   * The gamepads (docs/gamepads.md): the streamer's hub serves their sockets here and copies
   * the interposer the app preloads here (the streamer image's FLOE_STREAMER_GAMEPAD_LIBRARY,
   * by the same file name); the app mounts it read-only
   */
  gamepadsDir: '/run/floe/gamepads',
  gamepadLibrary: '/run/floe/gamepads/libfloe-gamepad.so',
} as const;

/**
 * PulseAudio's arguments in the pod's `sound` container: the same server the local runner
 * starts (streamer/src/sound-server.ts `soundServerArgs`, compared in the tests): a null sink
 * `floe` whose monitor the streamer captures, the viewer's microphone as the default source,
 * and an anonymous socket in the shared folder.
 */
export function soundServerArgs(socket: string): string[] {
  return [
    '--daemonize=no',
    '--exit-idle-time=-1',
    '-n',
    '--use-pid-file=no',
    '--disable-shm=yes',
    '--log-target=stderr',
    '--log-level=error',
    '--load=module-null-sink sink_name=floe',
    `--load=module-native-protocol-unix socket=${socket} auth-anonymous=1`,
    // the viewer's microphone: a sink the streamer plays it into, remapped to the default source
    '--load=module-null-sink sink_name=floe_microphone_in rate=48000 channels=1 sink_properties=device.description=Viewer-microphone-in',
    '--load=module-remap-source source_name=floe_microphone master=floe_microphone_in.monitor source_properties=device.description=Viewer-microphone',
  ];
}

type Labels = Record<string, string>;

/** Labels of every object written for a Session. */
export function sessionLabels(s: Session): Labels {
  return {
    [LABELS.managedBy]: MANAGED_BY_OPERATOR,
    [LABELS.session]: s.metadata.name,
    [LABELS.tenant]: s.spec.tenant.id,
    [LABELS.user]: s.spec.user.id,
    [LABELS.app]: s.spec.app.slug,
  };
}

function ownerReference(s: Session) {
  if (!s.metadata.uid) throw new Error(`Session ${s.metadata.name} has no uid yet`);
  return [
    {
      apiVersion: API_VERSION,
      kind: KIND,
      name: s.metadata.name,
      uid: s.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
}

// ---------------------------------------------------------------------------------------
// Per tenant

/** The operator's labels on the tenant namespace (the control plane creates it). */
export function desiredNamespace(s: Session) {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: s.metadata.namespace,
      labels: { [LABELS.tenant]: s.spec.tenant.id, 'floe.dev/tenant-namespace': 'true' },
    },
  };
}

/**
 * Deny all ingress to the namespace's pods except to the streamer's port from the ingress
 * gateway (viewers), the operator (its idle probe asks podIP:8080/healthz) and Prometheus
 * (/metrics on the same port). Other tenants, and everything else in the cluster, get nothing.
 */
export function desiredNetworkPolicy(s: Session, settings: DesiredSettings) {
  const from = (namespace: string, labels: Record<string, string>) => ({
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    podSelector: { matchLabels: labels },
  });
  const sources = [
    from(settings.ingressNamespace, settings.ingressPodLabels),
    from(settings.operatorNamespace, settings.operatorPodLabels),
    ...(settings.prometheusNamespace
      ? [from(settings.prometheusNamespace, settings.prometheusPodLabels)]
      : []),
  ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: NETWORK_POLICY_NAME,
      namespace: s.metadata.namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY_OPERATOR, [LABELS.tenant]: s.spec.tenant.id },
    },
    spec: {
      podSelector: {},
      policyTypes: ['Ingress'],
      ingress: [{ from: sources, ports: [{ protocol: 'TCP', port: STREAMER_PORT }] }],
    },
  };
}

const NON_PUBLIC = {
  v4: DENIED_PEER_CIDRS.filter((c) => !c.includes(':')),
  // IPv4-mapped addresses are IPv4 on the wire (covered above); Kubernetes refuses them here
  v6: DENIED_PEER_CIDRS.filter((c) => c.includes(':') && !c.startsWith('::ffff:')),
};

/**
 * What a tenant's pods may connect to: cluster DNS, the TURN fleet (which the streamer sends
 * media through), the ranges the platform operator allows, and the public internet unless
 * that is switched off; an app's template may add destinations (desiredAppEgressPolicy).
 * Other tenants' namespaces are private addresses, never in the internet rule. Never the rest of the cluster, the control plane, its database or
 * the cloud's metadata endpoint (169.254.169.254): a compromised app must not reach them.
 */
export function desiredEgressPolicy(s: Session, settings: DesiredSettings) {
  const dns = {
    to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
  };
  const allowed = [...settings.turnCidrs, ...settings.egressAllowCidrs].map((cidr) => ({
    ipBlock: { cidr },
  }));
  const internet = [
    { ipBlock: { cidr: '0.0.0.0/0', except: NON_PUBLIC.v4 } },
    { ipBlock: { cidr: '::/0', except: NON_PUBLIC.v6 } },
  ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: EGRESS_POLICY_NAME,
      namespace: s.metadata.namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY_OPERATOR, [LABELS.tenant]: s.spec.tenant.id },
    },
    spec: {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        dns,
        ...(allowed.length > 0 ? [{ to: allowed }] : []),
        ...(settings.egressInternet ? [{ to: internet }] : []),
      ],
    },
  };
}

/** The tenant's GPU quota, or undefined when it has none (the quota is then deleted). */
export function desiredResourceQuota(s: Session) {
  const max = s.spec.tenant.maxGpus;
  if (max === null || max === undefined) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'ResourceQuota',
    metadata: {
      name: RESOURCE_QUOTA_NAME,
      namespace: s.metadata.namespace,
      labels: { [LABELS.managedBy]: MANAGED_BY_OPERATOR, [LABELS.tenant]: s.spec.tenant.id },
    },
    spec: { hard: { [`requests.${GPU_RESOURCE}`]: String(max) } },
  };
}

/** The quota of a tenant whose GPUs come through DRA claims (counted per device class). */
export function desiredClaimQuota(s: Session, settings: DesiredSettings) {
  const quota = desiredResourceQuota(s);
  if (!quota || !settings.gpuDeviceClass) return quota;
  const key = `${settings.gpuDeviceClass}.deviceclass.resource.k8s.io/devices`;
  return { ...quota, spec: { hard: { [key]: String(s.spec.tenant.maxGpus) } } };
}

/** Name of a session's GPU claim template (and of the claim in its pod). */
export const gpuClaimTemplateName = (s: Session) => `${podName(s.metadata.name)}-gpu`;

/**
 * The session's GPU as a DRA claim (resource.k8s.io/v1), when the cluster shares devices
 * that way (settings.gpuDeviceClass): `count` devices of the class, on the SKU's nodes (the
 * pod's node selector), owned by the Session. Undefined without a GPU or a device class.
 */
export function desiredGpuClaimTemplate(s: Session, settings: DesiredSettings) {
  const gpu = s.spec.app.resources.gpu;
  if (!gpu || !settings.gpuDeviceClass) return undefined;
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaimTemplate',
    metadata: { ...ownedMetadata(s), name: gpuClaimTemplateName(s) },
    spec: {
      spec: {
        devices: {
          requests: [
            {
              name: 'gpu',
              exactly: {
                deviceClassName: settings.gpuDeviceClass,
                allocationMode: 'ExactCount',
                count: gpu.count,
              },
            },
          ],
        },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------
// Per session

/** The home claim: no owner, so it outlives the Session and a relaunch mounts it again. */
export function desiredHomeClaim(s: Session) {
  const p = s.spec.persistence;
  if (!p) return undefined;
  const labels = sessionLabels(s);
  delete labels[LABELS.session]; // it belongs to (user, app), not to one session
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: homeClaimName(s.spec.user.id, s.spec.app.slug),
      namespace: s.metadata.namespace,
      labels,
    },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: String(p.size) } },
      ...(p.storageClassName ? { storageClassName: p.storageClassName } : {}),
    },
  };
}

const env = (vars: Record<string, string | undefined>) =>
  Object.entries(vars).flatMap(([name, value]) => (value === undefined ? [] : [{ name, value }]));

const restricted = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  runAsUser: UID,
  runAsGroup: UID,
};

/** Name of the Secret holding a session's X authority cookie. */
export const xauthSecretName = (s: Session) => `${podName(s.metadata.name)}-xauth`;

/**
 * PURE: an Xauthority file (libXau's format) with one MIT-MAGIC-COOKIE-1 entry for display
 * `display` on any host (FamilyWild), as `xauth add :0 . <hex>` writes it. Xorg reads it
 * with `-auth`; Xlib and the streamer's X client through XAUTHORITY.
 */
export function xauthorityFile(display: number, cookie: Uint8Array): Buffer {
  const field = (b: Buffer) => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    return Buffer.concat([len, b]);
  };
  const family = Buffer.alloc(2);
  family.writeUInt16BE(0xffff);
  return Buffer.concat([
    family,
    field(Buffer.alloc(0)),
    field(Buffer.from(String(display))),
    field(Buffer.from('MIT-MAGIC-COOKIE-1')),
    field(Buffer.from(cookie)),
  ]);
}

/**
 * The Secret with the session's X cookie (16 random bytes, chosen by the caller): created once
 * before the pod, owned by the Session. Mounted into the X server, the app and the streamer
 * only: whoever lacks it cannot open the display even with the socket in reach.
 */
export function desiredXauthSecret(s: Session, cookie: Uint8Array) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: xauthSecretName(s),
      namespace: s.metadata.namespace,
      labels: sessionLabels(s),
      ownerReferences: ownerReference(s),
    },
    type: 'Opaque',
    data: { Xauthority: xauthorityFile(0, cookie).toString('base64') },
  };
}

/** Name of the ConfigMap holding the gateway's public keys for a session's streamer. */
export const viewerKeysName = (s: Session) => `${podName(s.metadata.name)}-viewer-keys`;

/** A public key of the gateway's JWKS, as its /.well-known/jwks.json serves it. */
export interface PublicJwk {
  kty: string;
  [member: string]: unknown;
}

/**
 * The ConfigMap with the gateway's public keys (its JWKS), which the session's streamer checks
 * viewer tokens against (FLOE_VIEWER_JWKS_FILE), owned by the Session. Public keys are no
 * secret: a ConfigMap, applied again whenever the gateway's keys change (the kubelet updates
 * the mounted file, the streamer reads it again).
 */
export function desiredViewerKeys(s: Session, keys: readonly PublicJwk[]) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: viewerKeysName(s),
      namespace: s.metadata.namespace,
      labels: sessionLabels(s),
      ownerReferences: ownerReference(s),
    },
    data: { 'jwks.json': JSON.stringify({ keys }) },
  };
}

/**
 * The app template's extra destinations, for this session's pod alone (policies add up: the
 * tenant's egress policy still allows DNS, TURN and the internet); undefined when it has none.
 */
export function desiredAppEgressPolicy(s: Session) {
  const rules = s.spec.app.scheduling?.egress ?? [];
  if (rules.length === 0) return undefined;
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: ownedMetadata(s),
    spec: {
      podSelector: { matchLabels: { [LABELS.session]: s.metadata.name } },
      policyTypes: ['Egress'],
      egress: rules.map((r) => ({
        to: [{ ipBlock: { cidr: r.cidr } }],
        ...(r.ports?.length ? { ports: r.ports } : {}),
      })),
    },
  };
}

/** Environment of the streamer sidecar, in the names streamer/src/config.ts reads. */
function streamerEnv(
  s: Session,
  shared: boolean,
  settings: DesiredSettings,
  gamepads: boolean,
): Record<string, string | undefined> {
  const st = s.spec.streamer ?? {};
  const max = st.maxKbps;
  return {
    DISPLAY: ':0',
    XAUTHORITY: POD_PATHS.xauthority,
    PULSE_SERVER: `unix:${POD_PATHS.soundSocket}`,
    FLOE_STREAMER_AUDIO: 'on',
    FLOE_SESSION_ID: s.metadata.name,
    FLOE_STREAMER_HOST: '0.0.0.0',
    FLOE_STREAMER_PORT: String(STREAMER_PORT),
    FLOE_STREAMER_CODECS: st.codecs?.join(','),
    FLOE_STREAMER_MAX_KBPS: max === undefined ? undefined : String(max),
    // the streamer refuses a start or floor above the ceiling
    FLOE_STREAMER_START_KBPS: max === undefined ? undefined : String(Math.min(4000, max)),
    FLOE_STREAMER_MIN_KBPS: max === undefined ? undefined : String(Math.min(500, max)),
    // NVENC only where the streamer shares the app's GPU (a DRA claim); else x264
    FLOE_STREAMER_H264_ENCODER: s.spec.app.resources.gpu && shared ? 'auto' : 'x264enc',
    // No TURN settings: the stream page asks the gateway (/sessions/{id}/turn) for the
    // session's ICE servers and hands them to the streamer with its offer. Neither the fleet's
    // secret nor a long-lived credential is ever in the pod.
    // Viewer tokens: checked against the gateway's public keys, a file of the ConfigMap
    FLOE_VIEWER_ISSUER: settings.viewerIssuer ?? undefined,
    FLOE_VIEWER_JWKS_FILE: settings.viewerIssuer ? POD_PATHS.viewerKeys : undefined,
    // clipboard and files as the tenant and app allow (docs/files.md); files move in and out
    // of the home, which the streamer mounts too
    FLOE_STREAMER_CLIPBOARD: st.clipboard === false ? 'off' : 'on',
    FLOE_STREAMER_FILES: st.files === false ? 'off' : 'on',
    FLOE_STREAMER_HOME: POD_PATHS.home,
    FLOE_STREAMER_MAX_FILE_BYTES:
      st.maxFileBytes === undefined ? undefined : String(st.maxFileBytes),
    FLOE_STREAMER_MAX_HOME_BYTES:
      st.maxHomeBytes === undefined ? undefined : String(st.maxHomeBytes),
    // the streamer warns its viewers before the idle stop this operator's probe decides
    FLOE_IDLE_TIMEOUT_SECONDS: s.spec.timeouts?.idleSeconds
      ? String(s.spec.timeouts.idleSeconds)
      : undefined,
    FLOE_SHUTDOWN_WARNING_SECONDS: String(settings.shutdownWarning),
    // the hub's sockets and a copy of the interposer, in the folder the app mounts
    FLOE_STREAMER_GAMEPAD_DIR: gamepads ? POD_PATHS.gamepadsDir : undefined,
  };
}

/**
 * The app's environment for its gamepads: the interposer preloaded (before any the app's own
 * env preloads) and the hub's folder. Paths only: nothing of the platform's.
 */
function gamepadEnv(appEnv: Record<string, string> | undefined) {
  const own = appEnv?.LD_PRELOAD;
  return {
    LD_PRELOAD: own ? `${POD_PATHS.gamepadLibrary} ${own}` : POD_PATHS.gamepadLibrary,
    FLOE_GAMEPAD_DIR: POD_PATHS.gamepadsDir,
  };
}

/**
 * The streamer's startup probe (no shell in its image: its Python): the interposer copied and
 * pad 0's joystick socket served, so the app the kubelet starts next finds its pads.
 */
export const STREAMER_STARTUP_PROBE = [
  'python3',
  '-c',
  `import os,stat,sys; sys.exit(not (os.path.isfile(${JSON.stringify(POD_PATHS.gamepadLibrary)}) and stat.S_ISSOCK(os.stat(${JSON.stringify(`${POD_PATHS.gamepadsDir}/js0`)}).st_mode)))`,
];

/** A native sidecar (Kubernetes 1.29+): started before the containers, up while they run. */
function sidecar(probe: string[]) {
  return {
    restartPolicy: 'Always',
    startupProbe: { exec: { command: probe }, periodSeconds: 1, failureThreshold: 60 },
  };
}

/** The pod's scheduling: the SKU's nodes, the GPU taint, and what the app's template adds. */
function scheduling(s: Session, settings: DesiredSettings) {
  const gpu = s.spec.app.resources.gpu;
  const t = s.spec.app.scheduling ?? {};
  const tolerations = [...(gpu ? settings.gpuTolerations : []), ...(t.tolerations ?? [])];
  const affinity = t.nodeAffinity;
  const nodeAffinity = {
    ...(affinity?.required?.length
      ? {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: affinity.required,
          },
        }
      : {}),
    ...(affinity?.preferred?.length
      ? {
          preferredDuringSchedulingIgnoredDuringExecution: affinity.preferred.map((p) => ({
            weight: p.weight,
            preference: { matchExpressions: p.matchExpressions },
          })),
        }
      : {}),
  };
  return {
    ...(gpu ? { nodeSelector: { [GPU_SKU_LABEL]: gpu.sku } } : {}),
    ...(tolerations.length > 0 ? { tolerations } : {}),
    ...(Object.keys(nodeAffinity).length > 0 ? { affinity: { nodeAffinity } } : {}),
    ...(t.imagePullSecrets?.length
      ? { imagePullSecrets: t.imagePullSecrets.map((name) => ({ name })) }
      : {}),
  };
}

export function desiredPod(s: Session, settings: DesiredSettings) {
  const { app } = s.spec;
  const gpu = app.resources.gpu;
  const template = app.scheduling ?? {};
  // the GPU: a claim the app and the streamer share, or the device plugin's, the app's alone
  const claim = desiredGpuClaimTemplate(s, settings);
  const claims = claim ? { claims: [{ name: 'gpu' }] } : {};
  const resources = {
    requests: { cpu: String(app.resources.cpu), memory: String(app.resources.memory) },
    limits: {
      cpu: String(app.resources.cpu),
      memory: String(app.resources.memory),
      // extended resources are requested through limits (requests default to them)
      ...(gpu && !claim ? { [GPU_RESOURCE]: String(gpu.count) } : {}),
    },
    ...claims,
  };
  const x11 = { name: 'x11', mountPath: POD_PATHS.x11 };
  const xauth = { name: 'xauth', mountPath: POD_PATHS.xauthDir, readOnly: true };
  const sound = { name: 'sound', mountPath: POD_PATHS.soundDir };
  const home = { name: 'home', mountPath: POD_PATHS.home };
  const extra = (template.volumes ?? []).map((v) => ({
    name: `data-${v.name}`,
    mountPath: v.mountPath,
    readOnly: true,
  }));
  const shm = template.shmSize ? [{ name: 'shm', mountPath: POD_PATHS.shm }] : [];
  const viewerKeys = settings.viewerIssuer
    ? [{ name: 'viewer-keys', mountPath: POD_PATHS.viewerKeysDir, readOnly: true }]
    : [];
  const size = s.spec.streamer;
  const streamerImage = s.spec.streamer?.image ?? settings.streamerImage;
  // Gamepads need the hub up before the app starts (an app looks for its pads when it
  // starts), so the streamer is a sidecar started after the X server: where the app brings its
  // own X server, the streamer can only start beside it, and the session has no gamepads.
  const gamepads = !app.hasXServer;
  const pads = gamepads ? { name: 'gamepads', mountPath: POD_PATHS.gamepadsDir } : undefined;
  const appContainer = {
    name: 'app',
    image: app.image,
    ...(app.command ? { command: app.command } : {}),
    ...(app.args ? { args: app.args } : {}),
    env: [
      ...env({
        ...app.env,
        DISPLAY: ':0',
        XAUTHORITY: POD_PATHS.xauthority,
        PULSE_SERVER: `unix:${POD_PATHS.soundSocket}`,
        HOME: POD_PATHS.home,
        FLOE_SESSION_ID: s.metadata.name,
        ...(gamepads ? gamepadEnv(app.env) : {}),
      }),
      ...(template.envFromSecrets ?? []).map((e) => ({
        name: e.name,
        valueFrom: { secretKeyRef: { name: e.secret, key: e.key } },
      })),
    ],
    resources,
    // the pads read-only: the app connects to the hub's sockets, and changes nothing there
    volumeMounts: [
      x11,
      xauth,
      sound,
      home,
      ...shm,
      ...(pads ? [{ ...pads, readOnly: true }] : []),
      ...extra,
    ],
    securityContext: restricted,
  };
  const streamer = {
    name: 'streamer',
    image: streamerImage,
    ports: [{ name: 'http', containerPort: STREAMER_PORT, protocol: 'TCP' }],
    env: env(streamerEnv(s, claim !== undefined, settings, gamepads)),
    readinessProbe: {
      httpGet: { path: '/healthz', port: STREAMER_PORT },
      periodSeconds: 2,
    },
    resources: {
      requests: { cpu: '500m', memory: '256Mi' },
      limits: { memory: '1Gi' },
      ...claims,
    },
    // the home for file transfer: the same user (UID) as the app, so files are the app's
    volumeMounts: [x11, xauth, sound, home, ...viewerKeys, ...(pads ? [pads] : [])],
    securityContext: restricted,
  };
  // The X server, PulseAudio and (with gamepads) the streamer are sidecars (init containers
  // that keep running), started in that order: the kubelet starts each once the one before
  // passed its startup probe, and the app once all have, so neither the app nor the streamer
  // opens the display or the sound socket before it exists, nor the app its pads before the
  // hub serves them (an app that fails to open its display exits, which ends a restartPolicy
  // Never pod). A sidecar keeps its ports and readiness probe: the Service and the pod's
  // readiness work as for a container.
  const sidecars: unknown[] = [];
  if (!app.hasXServer) {
    sidecars.push({
      name: 'xserver',
      image: settings.xserverImage,
      // after the image's entrypoint (Xorg :0 -config ...): only holders of the cookie
      // connect, and only through the socket in the shared folder (no abstract socket, which
      // any process of the pod's network namespace could reach without the folder)
      args: ['-auth', POD_PATHS.xauthority, '-nolisten', 'local'],
      env: env({
        DISPLAY: ':0',
        FLOE_DISPLAY_SIZE: size?.width && size.height ? `${size.width}x${size.height}` : undefined,
      }),
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      volumeMounts: [x11, xauth],
      securityContext: restricted,
      ...sidecar(['test', '-S', `${POD_PATHS.x11}/X0`]),
    });
  }
  sidecars.push({
    // the session's PulseAudio, from the streamer's image: the app plays into its null
    // sink, the streamer captures the sink's monitor; both reach it by the shared socket
    name: 'sound',
    image: streamerImage,
    command: ['pulseaudio'],
    args: soundServerArgs(POD_PATHS.soundSocket),
    // its cookie and state in the container's /tmp: the shared folder is root's (an
    // emptyDir), which PulseAudio refuses as its runtime folder; only the socket goes there
    env: env({ HOME: '/tmp' }),
    resources: { requests: { cpu: '50m', memory: '32Mi' }, limits: { memory: '128Mi' } },
    volumeMounts: [sound],
    securityContext: restricted,
    ...sidecar(
      // no shell in the streamer's image: its Python says whether the socket is there
      [
        'python3',
        '-c',
        `import os,stat,sys; sys.exit(not stat.S_ISSOCK(os.stat(${JSON.stringify(POD_PATHS.soundSocket)}).st_mode))`,
      ],
    ),
  });
  if (gamepads) sidecars.push({ ...streamer, ...sidecar(STREAMER_STARTUP_PROBE) });
  const containers: unknown[] = gamepads ? [appContainer] : [appContainer, streamer];
  const homeClaim = desiredHomeClaim(s);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: ownedMetadata(s),
    spec: {
      // a session whose app exits is over: never restarted in place
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 10,
      ...scheduling(s, settings),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: UID,
        runAsGroup: UID,
        fsGroup: UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      ...(claim
        ? { resourceClaims: [{ name: 'gpu', resourceClaimTemplateName: claim.metadata.name }] }
        : {}),
      initContainers: sidecars,
      containers,
      volumes: [
        { name: 'x11', emptyDir: {} },
        // group-readable: uid 1000's containers read it through fsGroup
        { name: 'xauth', secret: { secretName: xauthSecretName(s), defaultMode: 0o440 } },
        { name: 'sound', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
        // eight sockets and the interposer (about 100 KiB)
        ...(gamepads
          ? [{ name: 'gamepads', emptyDir: { medium: 'Memory', sizeLimit: '4Mi' } }]
          : []),
        homeClaim
          ? { name: 'home', persistentVolumeClaim: { claimName: homeClaim.metadata.name } }
          : { name: 'home', emptyDir: {} },
        ...(template.shmSize
          ? [{ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: template.shmSize } }]
          : []),
        ...(settings.viewerIssuer
          ? [{ name: 'viewer-keys', configMap: { name: viewerKeysName(s) } }]
          : []),
        ...(template.volumes ?? []).map((v) => ({
          name: `data-${v.name}`,
          ...(v.secret ? { secret: { secretName: v.secret } } : {}),
          ...(v.configMap ? { configMap: { name: v.configMap } } : {}),
          ...(v.claim ? { persistentVolumeClaim: { claimName: v.claim, readOnly: true } } : {}),
        })),
      ],
    },
  };
}

/** Name, labels and owner of the per-session objects (pod, Service, VirtualService). */
function ownedMetadata(s: Session) {
  return {
    name: podName(s.metadata.name),
    namespace: s.metadata.namespace,
    labels: sessionLabels(s),
    ownerReferences: ownerReference(s),
  };
}

export function desiredService(s: Session) {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMetadata(s),
    spec: {
      type: 'ClusterIP',
      selector: { [LABELS.session]: s.metadata.name, [LABELS.managedBy]: MANAGED_BY_OPERATOR },
      ports: [{ name: 'http', port: STREAMER_PORT, targetPort: STREAMER_PORT, protocol: 'TCP' }],
    },
  };
}

/** The path the ingress gateway routes to a session's streamer. */
export const sessionPath = (s: Session) => `/sessions/${s.metadata.name}/`;

/** In-cluster DNS name of a session's Service. */
export function serviceHost(s: Session, settings: DesiredSettings) {
  return `${podName(s.metadata.name)}.${s.metadata.namespace}.svc.${settings.clusterDomain}`;
}

/**
 * status.endpoint: the streamer's root inside the cluster,
 * `http://floe-<session>.<namespace>.svc.<domain>:8080/`. The gateway proxies
 * `/sessions/{id}/<rest>` to `<endpoint><rest>` (gateway/src/sessions/proxy.ts), and the
 * VirtualService rewrites `/sessions/<session>/signal` to `/signal`: the streamer serves at
 * its root whichever way a viewer arrives.
 */
export function sessionEndpoint(s: Session, settings: DesiredSettings) {
  return `http://${serviceHost(s, settings)}:${STREAMER_PORT}/`;
}

/** The stream's signalling WebSocket, at the streamer (streamer/src/protocol.ts SIGNAL_PATH). */
const SIGNAL_PATH = '/signal';

/**
 * Istio routes a session's signalling WebSocket, and nothing else of its path, straight to its
 * pod (after the gateway's ext_authz check, which adds the viewer token). The stream page and
 * everything else under /sessions/<session>/ stay with the gateway (the chart's catch-all
 * route): its own stream page, and a session's other answers passed on as passive content
 * only — a pod's app may be hostile, and its answers would be on the gateway's origin.
 */
export function desiredVirtualService(s: Session, settings: DesiredSettings) {
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: ownedMetadata(s),
    spec: {
      hosts: settings.istioHosts,
      gateways: [settings.istioGateway],
      http: [
        {
          name: 'streamer',
          match: [{ uri: { exact: `${sessionPath(s).slice(0, -1)}${SIGNAL_PATH}` } }],
          rewrite: { uri: SIGNAL_PATH },
          // the browser's sign-in never reaches the pod (as with the gateway's own proxy); the
          // viewer token ext_authz added is what the streamer checks
          headers: { request: { remove: ['cookie', 'x-csrf-token'] } },
          route: [
            { destination: { host: serviceHost(s, settings), port: { number: STREAMER_PORT } } },
          ],
          // no timeout (Istio's default for a route): the signalling WebSocket stays open for
          // the whole session; Envoy upgrades WebSockets by default
        },
      ],
    },
  };
}
