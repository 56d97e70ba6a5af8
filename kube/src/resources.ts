// The built-in kinds Floe reads and writes, as REST coordinates. Floe's own Session kind is
// part of its contract: SESSION_RESOURCE in @floe/operator/crd.
import type { ResourceRef } from './kube.ts';

/** A kind's REST coordinates: group ('' for the core group), version and plural. */
export type Kind = Omit<ResourceRef, 'namespace' | 'name' | 'subresource'>;

export const R = {
  pod: { group: '', version: 'v1', plural: 'pods' },
  node: { group: '', version: 'v1', plural: 'nodes' },
  service: { group: '', version: 'v1', plural: 'services' },
  secret: { group: '', version: 'v1', plural: 'secrets' },
  configMap: { group: '', version: 'v1', plural: 'configmaps' },
  resourceClaimTemplate: {
    group: 'resource.k8s.io',
    version: 'v1',
    plural: 'resourceclaimtemplates',
  },
  namespace: { group: '', version: 'v1', plural: 'namespaces' },
  pvc: { group: '', version: 'v1', plural: 'persistentvolumeclaims' },
  resourceQuota: { group: '', version: 'v1', plural: 'resourcequotas' },
  networkPolicy: { group: 'networking.k8s.io', version: 'v1', plural: 'networkpolicies' },
  virtualService: { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' },
  lease: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases' },
  crd: { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' },
} satisfies Record<string, Kind>;

export const at = (
  kind: Kind,
  namespace?: string,
  name?: string,
  subresource?: string,
): ResourceRef => ({
  ...kind,
  namespace,
  name,
  subresource,
});

/** Minimal shape of any object read from the API. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string; uid: string; controller?: boolean }[];
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    finalizers?: string[];
  };
}

export interface Pod extends KubeObject {
  spec: {
    nodeName?: string;
    containers: { name: string }[];
  };
  status?: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    podIP?: string;
    reason?: string;
    message?: string;
    startTime?: string;
    conditions?: {
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
  };
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  restartCount?: number;
  state?: {
    waiting?: { reason?: string; message?: string };
    running?: { startedAt?: string };
    terminated?: { exitCode: number; reason?: string; message?: string; finishedAt?: string };
  };
}
