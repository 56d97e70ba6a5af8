// The few Kubernetes API calls the driver makes, each counted (verb, resource) for
// floe_cluster_kube_requests_total: a launch should cost one create, nothing more.

import { GROUP, LABELS, MANAGED_BY_CONTROL, PLURAL, VERSION } from '@floe/operator/crd';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
} from '@kubernetes/client-node';
import type { NodeLike, PodLike } from './capacity.ts';
import type { KubeObject, ListResult, WatchFn } from './informer.ts';

export const FIELD_MANAGER = 'floe-control';
/** Sessions this control plane wrote; the operator's own objects carry floe-operator. */
export const CONTROL_SESSIONS = `${LABELS.managedBy}=${MANAGED_BY_CONTROL}`;
/** GPU pods that are not Floe sessions (theirs count as the control plane's own sessions). */
const FOREIGN_PODS = `!${LABELS.session}`;
const LIVE_PODS = 'status.phase!=Succeeded,status.phase!=Failed';

export type CountRequest = (verb: string, resource: string) => void;

export interface SessionObject extends KubeObject {
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    deletionTimestamp?: string;
  };
  status?: import('@floe/operator/crd').SessionStatus;
}

/** How a failed request failed: the cluster's answer (status, message) or no answer at all. */
export function describeError(err: unknown): { status?: number; message: string } {
  const e = err as { code?: unknown; body?: unknown; message?: string; cause?: unknown };
  if (typeof e?.code === 'number') {
    let body = e.body;
    if (typeof body === 'string') {
      try {
        body = JSON.parse(body);
      } catch {}
    }
    const message = (body as { message?: string } | undefined)?.message;
    return { status: e.code, message: message ?? `HTTP ${e.code}` };
  }
  const cause = (e?.cause as { code?: string; message?: string } | undefined) ?? undefined;
  return { message: cause?.code ?? cause?.message ?? e?.message ?? String(err) };
}

export class KubeApi {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;
  private readonly watcher: Watch;
  private readonly count: CountRequest;

  constructor(kubeConfig: KubeConfig, count: CountRequest) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.watcher = new Watch(kubeConfig);
    this.count = count;
  }

  private watchOf<T>(path: string, params: Record<string, string>): WatchFn<T> {
    return (resourceVersion, onEvent, done) => {
      this.count('watch', path.split('/').pop() as string);
      return this.watcher.watch(
        path,
        { ...params, resourceVersion, allowWatchBookmarks: 'true' },
        onEvent,
        done,
      );
    };
  }

  listNodes = async (): Promise<ListResult<NodeLike & KubeObject>> => {
    this.count('list', 'nodes');
    const list = await this.core.listNode();
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  };

  watchNodes = this.watchOf<NodeLike & KubeObject>('/api/v1/nodes', {});

  listForeignPods = async (): Promise<ListResult<PodLike & KubeObject>> => {
    this.count('list', 'pods');
    const list = await this.core.listPodForAllNamespaces({
      labelSelector: FOREIGN_PODS,
      fieldSelector: LIVE_PODS,
    });
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  };

  watchForeignPods = this.watchOf<PodLike & KubeObject>('/api/v1/pods', {
    labelSelector: FOREIGN_PODS,
    fieldSelector: LIVE_PODS,
  });

  listSessions = async (): Promise<ListResult<SessionObject>> => {
    this.count('list', PLURAL);
    const list = await this.custom.listClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      labelSelector: CONTROL_SESSIONS,
    });
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
  };

  watchSessions = this.watchOf<SessionObject>(`/apis/${GROUP}/${VERSION}/${PLURAL}`, {
    labelSelector: CONTROL_SESSIONS,
  });

  async applyNamespace(body: { metadata: { name: string } }) {
    this.count('apply', 'namespaces');
    await this.core.patchNamespace(
      { name: body.metadata.name, body, fieldManager: FIELD_MANAGER, force: true },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
  }

  async createSession(body: { metadata: { namespace: string } }) {
    this.count('create', PLURAL);
    await this.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace: body.metadata.namespace,
      body,
      fieldManager: FIELD_MANAGER,
    });
  }

  async deleteSession(namespace: string, name: string) {
    this.count('delete', PLURAL);
    await this.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURAL,
      namespace,
      name,
      // the operator's finalizer cleans up what the Session owns before it goes
      propagationPolicy: 'Background',
    });
  }
}
