// The few Kubernetes API calls the driver makes, over @floe/kube's client, which
// counts each one (verb, resource) for floe_cluster_kube_requests_total: a launch should
// cost one create, nothing more.

import { Informer, type InformerOptions, kubeListerWatcher } from '@floe/kube/informer';
import { apply, type Kube, KubeApiError } from '@floe/kube/kube';
import { R } from '@floe/kube/resources';
import {
  LABELS,
  MANAGED_BY_CONTROL,
  SESSION_RESOURCE,
  type SessionStatus,
} from '@floe/operator/crd';
import type { NodeLike, PodLike } from './capacity.ts';

export const FIELD_MANAGER = 'floe-control';
/** Sessions this control plane wrote; the operator's own objects carry floe-operator. */
export const CONTROL_SESSIONS = `${LABELS.managedBy}=${MANAGED_BY_CONTROL}`;
/** GPU pods that are not Floe sessions (theirs count as the control plane's own sessions). */
const FOREIGN_PODS = `!${LABELS.session}`;
const LIVE_PODS = 'status.phase!=Succeeded,status.phase!=Failed';

export interface SessionObject {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
  };
  status?: SessionStatus;
}

export type NodeObject = NodeLike & { metadata: { name: string; resourceVersion?: string } };
export type PodObject = PodLike & {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
};

/** How a failed request failed: the cluster's answer (status, message) or no answer at all. */
export function describeError(err: unknown): { status?: number; message: string } {
  if (err instanceof KubeApiError) {
    return { status: err.status, message: err.serverMessage || `HTTP ${err.status}` };
  }
  const e = err as { message?: string; cause?: { code?: string; message?: string } } | null;
  return { message: e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err) };
}

type Opts<T> = Omit<InformerOptions<T>, 'name'>;

/** The Sessions this control plane wrote, in every namespace. */
export const sessionInformer = (kube: Kube, opts: Opts<SessionObject>) =>
  new Informer<SessionObject>(kubeListerWatcher(kube, SESSION_RESOURCE, CONTROL_SESSIONS), {
    name: 'sessions',
    ...opts,
  });

export const nodeInformer = (kube: Kube, opts: Opts<NodeObject>) =>
  new Informer<NodeObject>(kubeListerWatcher(kube, R.node), { name: 'nodes', ...opts });

/** Live pods that are not Floe sessions, for the GPUs they hold. */
export const foreignPodInformer = (kube: Kube, opts: Opts<PodObject>) =>
  new Informer<PodObject>(kubeListerWatcher(kube, R.pod, FOREIGN_PODS, LIVE_PODS), {
    name: 'pods',
    ...opts,
  });

export async function applyNamespace(kube: Kube, body: { metadata: { name: string } }) {
  await apply(kube, { ...R.namespace, name: body.metadata.name }, body, FIELD_MANAGER);
}

export async function createSession(kube: Kube, body: { metadata: { namespace: string } }) {
  await kube.request(
    'create',
    { ...SESSION_RESOURCE, namespace: body.metadata.namespace },
    {
      body,
      query: { fieldManager: FIELD_MANAGER },
    },
  );
}

export async function deleteSession(kube: Kube, namespace: string, name: string) {
  // the operator's finalizer cleans up what the Session owns before it goes
  await kube.request(
    'delete',
    { ...SESSION_RESOURCE, namespace, name },
    {
      query: { propagationPolicy: 'Background' },
    },
  );
}
