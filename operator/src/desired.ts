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
  /** private ranges session pods may reach all the same: the TURN fleet, a proxy */
  egressAllowCidrs: string[];
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
};

export const STREAMER_PORT = 8080;
export const NETWORK_POLICY_NAME = 'floe-deny-ingress';
export const EGRESS_POLICY_NAME = 'floe-restrict-egress';
export const RESOURCE_QUOTA_NAME = 'floe-gpu-quota';
const UID = 1000;

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

/** Deny all ingress to the namespace's pods except from the ingress gateway's pods. */
export function desiredNetworkPolicy(s: Session, settings: DesiredSettings) {
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
      ingress: [
        {
          from: [
            {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': settings.ingressNamespace },
              },
              podSelector: { matchLabels: settings.ingressPodLabels },
            },
          ],
        },
      ],
    },
  };
}

const NON_PUBLIC = {
  v4: DENIED_PEER_CIDRS.filter((c) => !c.includes(':')),
  // IPv4-mapped addresses are IPv4 on the wire (covered above); Kubernetes refuses them here
  v6: DENIED_PEER_CIDRS.filter((c) => c.includes(':') && !c.startsWith('::ffff:')),
};

/**
 * What a tenant's pods may connect to: cluster DNS, the ranges the platform operator allows
 * (the TURN fleet, which the streamer sends media through), and the public internet unless
 * that is switched off. Never the rest of the cluster, the control plane, its database or
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
  const allowed = settings.egressAllowCidrs.map((cidr) => ({ ipBlock: { cidr } }));
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

/** Environment of the streamer sidecar, in the names streamer/src/config.ts reads. */
function streamerEnv(s: Session): Record<string, string | undefined> {
  const st = s.spec.streamer ?? {};
  const max = st.maxKbps;
  return {
    DISPLAY: ':0',
    FLOE_SESSION_ID: s.metadata.name,
    FLOE_STREAMER_HOST: '0.0.0.0',
    FLOE_STREAMER_PORT: String(STREAMER_PORT),
    FLOE_STREAMER_CODECS: st.codecs?.join(','),
    FLOE_STREAMER_MAX_KBPS: max === undefined ? undefined : String(max),
    // the streamer refuses a start or floor above the ceiling
    FLOE_STREAMER_START_KBPS: max === undefined ? undefined : String(Math.min(4000, max)),
    FLOE_STREAMER_MIN_KBPS: max === undefined ? undefined : String(Math.min(500, max)),
    FLOE_STREAMER_H264_ENCODER: s.spec.app.resources.gpu ? 'auto' : 'x264enc',
  };
}

export function desiredPod(s: Session, settings: DesiredSettings) {
  const { app } = s.spec;
  const gpu = app.resources.gpu;
  const resources = {
    requests: { cpu: String(app.resources.cpu), memory: String(app.resources.memory) },
    limits: {
      cpu: String(app.resources.cpu),
      memory: String(app.resources.memory),
      // extended resources are requested through limits (requests default to them)
      ...(gpu ? { [GPU_RESOURCE]: String(gpu.count) } : {}),
    },
  };
  const x11 = { name: 'x11', mountPath: '/tmp/.X11-unix' };
  const home = { name: 'home', mountPath: '/home/floe' };
  const size = s.spec.streamer;
  const containers: unknown[] = [
    {
      name: 'app',
      image: app.image,
      ...(app.command ? { command: app.command } : {}),
      ...(app.args ? { args: app.args } : {}),
      env: env({
        ...app.env,
        DISPLAY: ':0',
        HOME: '/home/floe',
        FLOE_SESSION_ID: s.metadata.name,
      }),
      resources,
      volumeMounts: [x11, home],
      securityContext: restricted,
    },
    {
      name: 'streamer',
      image: s.spec.streamer?.image ?? settings.streamerImage,
      ports: [{ name: 'http', containerPort: STREAMER_PORT, protocol: 'TCP' }],
      env: env(streamerEnv(s)),
      readinessProbe: {
        httpGet: { path: '/healthz', port: STREAMER_PORT },
        periodSeconds: 2,
      },
      resources: { requests: { cpu: '500m', memory: '256Mi' }, limits: { memory: '1Gi' } },
      volumeMounts: [x11],
      securityContext: restricted,
    },
  ];
  if (!app.hasXServer) {
    containers.push({
      name: 'xserver',
      image: settings.xserverImage,
      env: env({
        DISPLAY: ':0',
        FLOE_DISPLAY_SIZE: size?.width && size.height ? `${size.width}x${size.height}` : undefined,
      }),
      resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } },
      volumeMounts: [x11],
      securityContext: restricted,
    });
  }
  const claim = desiredHomeClaim(s);
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
      ...(gpu ? { nodeSelector: { [GPU_SKU_LABEL]: gpu.sku } } : {}),
      securityContext: {
        runAsNonRoot: true,
        runAsUser: UID,
        runAsGroup: UID,
        fsGroup: UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers,
      volumes: [
        { name: 'x11', emptyDir: {} },
        claim
          ? { name: 'home', persistentVolumeClaim: { claimName: claim.metadata.name } }
          : { name: 'home', emptyDir: {} },
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
 * VirtualService rewrites `/sessions/<session>/` to `/`: the streamer serves at its root
 * whichever way a viewer arrives.
 */
export function sessionEndpoint(s: Session, settings: DesiredSettings) {
  return `http://${serviceHost(s, settings)}:${STREAMER_PORT}/`;
}

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
          match: [{ uri: { prefix: sessionPath(s) } }],
          rewrite: { uri: '/' },
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
