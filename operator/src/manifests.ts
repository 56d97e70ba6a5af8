// The operator's manifests as objects, and as the YAML committed in operator/manifests/ (a
// test keeps those files equal to what this renders: regenerate with
// `node operator/src/main.ts manifests --write`).
import { stringify } from 'yaml';
import { GROUP, PLURAL, sessionCrd } from './crd.ts';
import { floeImage } from './images.ts';

export const OPERATOR_NAMESPACE = 'floe-system';
const name = 'floe-operator';
const labels = { 'app.kubernetes.io/name': name, 'app.kubernetes.io/part-of': 'floe' };

/** The least the operator needs, verb by verb (see README.md, "RBAC"). */
export const clusterRoleRules = [
  // Sessions: watched everywhere; the finalizer is a patch of the Session, status its own
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch', 'patch'] },
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['patch'] },
  // pods are created once and deleted, never changed
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch', 'create', 'delete'] },
  // server-side apply: patch (create, for an apply that creates)
  {
    apiGroups: [''],
    resources: ['services'],
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
  },
  {
    apiGroups: ['networking.istio.io'],
    resources: ['virtualservices'],
    verbs: ['list', 'watch', 'create', 'patch', 'delete'],
  },
  // home claims: created when missing, never changed nor deleted
  { apiGroups: [''], resources: ['persistentvolumeclaims'], verbs: ['create'] },
  // each session's X authority cookie (garbage-collected with its Session)
  { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
  // each session's copy of the gateway's public keys, applied again when they change
  { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'patch'] },
  // each GPU session's device claim, with --gpu-device-class (garbage-collected likewise)
  { apiGroups: ['resource.k8s.io'], resources: ['resourceclaimtemplates'], verbs: ['create'] },
  // tenant namespaces: the control plane creates them, the operator labels them
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'patch'] },
  { apiGroups: ['networking.k8s.io'], resources: ['networkpolicies'], verbs: ['create', 'patch'] },
  { apiGroups: [''], resources: ['resourcequotas'], verbs: ['create', 'patch', 'delete'] },
];

export function rbacObjects() {
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: OPERATOR_NAMESPACE, labels } },
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace: OPERATOR_NAMESPACE, labels },
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: clusterRoleRules,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: OPERATOR_NAMESPACE }],
    },
    // the leader Lease, in the operator's own namespace only
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: `${name}-leader-election`, namespace: OPERATOR_NAMESPACE, labels },
      rules: [
        {
          apiGroups: ['coordination.k8s.io'],
          resources: ['leases'],
          verbs: ['get', 'create', 'update'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${name}-leader-election`, namespace: OPERATOR_NAMESPACE, labels },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: `${name}-leader-election`,
      },
      subjects: [{ kind: 'ServiceAccount', name, namespace: OPERATOR_NAMESPACE }],
    },
  ];
}

export function deploymentObject(image = floeImage('operator')) {
  const podLabels = { 'app.kubernetes.io/name': name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: OPERATOR_NAMESPACE, labels },
    spec: {
      // two replicas, one leader (Lease floe-system/floe-operator): a standby with warm caches
      replicas: 2,
      selector: { matchLabels: podLabels },
      template: {
        metadata: { labels: { ...labels, ...podLabels } },
        spec: {
          serviceAccountName: name,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  podAffinityTerm: {
                    topologyKey: 'kubernetes.io/hostname',
                    labelSelector: { matchLabels: podLabels },
                  },
                },
              ],
            },
          },
          containers: [
            {
              name: 'operator',
              image,
              env: [
                { name: 'FLOE_OPERATOR_METRICS_ADDR', value: '0.0.0.0:9090' },
                { name: 'FLOE_OPERATOR_LEADER_ELECTION_NAMESPACE', value: OPERATOR_NAMESPACE },
                // the pod's name is unique per replica: the Lease holder reads well
                {
                  name: 'FLOE_OPERATOR_ID',
                  valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
                },
              ],
              ports: [{ name: 'metrics', containerPort: 9090 }],
              readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' } },
              livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' } },
              resources: {
                requests: { cpu: '200m', memory: '256Mi' },
                limits: { memory: '1Gi' },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
}

const header = (what: string) =>
  `# ${what}\n# Generated from operator/src/ by \`node operator/src/main.ts manifests --write\`; do not edit.\n`;

const toYaml = (objects: unknown[]) => objects.map((o) => stringify(o)).join('---\n');

/** The files of operator/manifests/, by name. */
export function renderManifests(): Record<string, string> {
  return {
    'crd.yaml':
      header('The Session CustomResourceDefinition (operator/src/crd.ts)') + toYaml([sessionCrd]),
    'rbac.yaml':
      header("The operator's ServiceAccount and the least it may do") + toYaml(rbacObjects()),
    'deployment.yaml':
      header('Two replicas of the operator, one of them leading') + toYaml([deploymentObject()]),
  };
}
