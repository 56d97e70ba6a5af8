import { EventEmitter } from 'node:events';
import type { Informer } from '@floe/kube/informer';
import { connectKube, type Kube } from '@floe/kube/kube';
import { tenantNamespace } from '@floe/operator/crd';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  type Capacity,
  type ClusterDriver,
  type ClusterStatus,
  LaunchRefused,
  type LaunchSpec,
  type Observation,
  type SessionAddress,
} from './driver.ts';
import {
  applyNamespace,
  createSession,
  deleteSession,
  describeError,
  foreignPodInformer,
  type NodeObject,
  nodeInformer,
  type PodObject,
  type SessionObject,
  sessionInformer,
} from './kubernetes/api.ts';
import { type GpuCapacity, gpuCapacity } from './kubernetes/capacity.ts';
import { namespaceObject, sessionObject, sessionReport } from './kubernetes/session-resource.ts';

export type CountRequest = (verb: string, resource: string) => void;

/** Waits between retries: doubling from initialMs up to maxMs. */
export interface Backoff {
  initialMs: number;
  maxMs: number;
}

export interface KubernetesDriverOptions {
  /** the cluster's name, for logs */
  name: string;
  kubeConfig: KubeConfig;
  /** the cluster's labels (e.g. floe.dev/storage-class), read at each launch */
  labels: () => Record<string, string>;
  log: Logger;
  /** counts each request to the API server (verb, resource) */
  countRequest?: CountRequest;
  /** told whenever the cluster's status changes */
  onStatus?: (status: ClusterStatus) => void;
  /** between retries of lists, watches and requests while the cluster is away */
  backoff?: Backoff;
  /** failed lists or watches in a row after which the cluster counts as unreachable */
  unreachableAfter?: number;
}

/** A request that failed without the cluster's answer (or with a 5xx or 429): worth retrying. */
const retriable = (status: number | undefined) =>
  status === undefined || status === 429 || status >= 500;

/**
 * Runs sessions on one Kubernetes cluster as `Session` resources (operator/src/crd.ts): a
 * launch creates one in the tenant's namespace, a stop deletes it, and its status, watched,
 * is what the driver observes. Watches of Nodes and of the GPU pods that are not Floe's
 * keep the cluster's capacity current without a request per launch. While the cluster
 * cannot be reached, nothing is observed (`unknown`); on its return, every session is
 * looked at again.
 */
export class KubernetesDriver implements ClusterDriver {
  private readonly changes = new EventEmitter();
  /** the Sessions this control plane wrote, by name (= session id), as last seen */
  private readonly byName = new Map<string, SessionObject>();
  /** tenants whose namespace this process applied on this cluster */
  private readonly namespaces = new Map<string, Promise<void>>();
  private readonly kube: Kube;
  private readonly sessions: Informer<SessionObject>;
  private readonly nodes: Informer<NodeObject>;
  private readonly pods: Informer<PodObject>;
  private readonly opts: KubernetesDriverOptions & { backoff: Backoff; unreachableAfter: number };
  private readonly log: Logger;
  private unreachable = false;
  private lastError: string | null = null;
  private capacityCache: GpuCapacity[] | null = null;

  constructor(opts: KubernetesDriverOptions) {
    this.opts = { backoff: { initialMs: 250, maxMs: 10_000 }, unreachableAfter: 2, ...opts };
    this.log = opts.log.child({ cluster: opts.name });
    this.kube = connectKube(opts.kubeConfig, { onRequest: opts.countRequest });
    const common = {
      backoff: { baseMs: this.opts.backoff.initialMs, maxMs: this.opts.backoff.maxMs, jitter: 0 },
      // each return of the cluster is a list, which the control plane syncs against
      relistAfterError: true,
    };
    const dirty = () => {
      this.capacityCache = null;
    };
    this.sessions = sessionInformer(this.kube, {
      ...common,
      onEvent: (event, s) => {
        const sessionId = s.metadata.name;
        if (event === 'delete') this.byName.delete(sessionId);
        else this.byName.set(sessionId, s);
        this.changed(sessionId);
      },
      onListed: () => this.reachable(),
      onError: (err, _, failures) => this.failed('sessions', err, failures),
    });
    this.nodes = nodeInformer(this.kube, {
      ...common,
      onEvent: dirty,
      onListed: () => {
        dirty();
        this.statusChanged();
      },
      onError: (err, _, n) => this.logError('nodes', err, n),
    });
    this.pods = foreignPodInformer(this.kube, {
      ...common,
      onEvent: dirty,
      onListed: dirty,
      onError: (err, _, n) => this.logError('pods', err, n),
    });
    this.sessions.start();
    this.nodes.start();
    this.pods.start();
  }

  status(): ClusterStatus {
    if (this.unreachable) return 'unreachable';
    return this.sessions.hasSynced && this.nodes.hasSynced ? 'connected' : 'connecting';
  }

  private lastStatus: ClusterStatus = 'connecting';
  private statusChanged() {
    const now = this.status();
    if (now === this.lastStatus) return;
    this.lastStatus = now;
    this.log.info({ status: now, error: this.lastError }, 'cluster %s', now);
    this.opts.onStatus?.(now);
  }

  async capacity(): Promise<Capacity> {
    this.capacityCache ??= gpuCapacity(this.nodes.list(), this.pods.list());
    return {
      gpus: this.capacityCache.map((g) => ({ sku: g.sku, count: g.allocatable })),
      heldByOthers: this.capacityCache
        .filter((g) => g.heldByOthers > 0)
        .map((g) => ({ sku: g.sku, count: g.heldByOthers })),
      maxSessions: null,
      status: this.status(),
      error: this.status() === 'connected' ? null : this.lastError,
    };
  }

  onChange(listener: (sessionId: string | null) => void): () => void {
    this.changes.on('change', listener);
    return () => this.changes.off('change', listener);
  }

  private changed(sessionId: string | null) {
    this.changes.emit('change', sessionId);
  }

  /** What the Sessions watch last said of the session (its Session is named by its id). */
  observe({ sessionId }: SessionAddress): Observation {
    if (this.unreachable) {
      return { seen: 'unknown', unreachable: 'its cluster is unreachable' };
    }
    if (!this.sessions.hasSynced) return { seen: 'unknown', unreachable: null };
    const s = this.byName.get(sessionId);
    if (!s) return { seen: 'absent', vanished: 'its Session resource vanished' };
    const report = sessionReport(s) ?? { state: 'starting' as const };
    return {
      seen: 'present',
      ...report,
      ref: { namespace: s.metadata.namespace },
      ending: Boolean(s.metadata.deletionTimestamp),
    };
  }

  present(): string[] | null {
    return this.sessions.hasSynced && !this.unreachable ? [...this.byName.keys()] : null;
  }

  /** Creates the session's Session in its tenant's namespace (one that exists is enough). */
  async launch(spec: LaunchSpec): Promise<void> {
    let body: ReturnType<typeof sessionObject>;
    try {
      body = sessionObject(spec, this.opts.labels());
    } catch (err) {
      throw new LaunchRefused((err as Error).message);
    }
    await this.ensureNamespace(spec.tenantId);
    try {
      await createSession(this.kube, body);
    } catch (err) {
      const { status, message } = describeError(err);
      if (status === 409) return; // AlreadyExists: an earlier attempt got through
      if (retriable(status)) throw new Error(`creating the Session failed: ${message}`);
      throw new LaunchRefused(`the cluster refused the Session: ${message}`);
    }
  }

  /** The tenant's namespace, applied once per tenant by this process (a failure is retried). */
  private ensureNamespace(tenantId: string): Promise<void> {
    let applied = this.namespaces.get(tenantId);
    if (!applied) {
      applied = applyNamespace(this.kube, namespaceObject(tenantId));
      this.namespaces.set(tenantId, applied);
      applied.catch(() => this.namespaces.delete(tenantId));
    }
    return applied;
  }

  /**
   * Deletes the session's Session: gone at once without a finalizer, else once the
   * operator has cleaned up — the watch tells.
   */
  async terminate({ sessionId, tenantId, ref }: SessionAddress): Promise<void> {
    const namespace =
      this.byName.get(sessionId)?.metadata.namespace ??
      (typeof ref?.namespace === 'string' ? ref.namespace : null) ??
      (tenantId && tenantNamespace(tenantId));
    if (!namespace) return;
    try {
      await deleteSession(this.kube, namespace, sessionId);
    } catch (err) {
      const { status, message } = describeError(err);
      if (status === 404) {
        // gone already; the watch may not have said so yet
        if (this.byName.get(sessionId)?.metadata.namespace === namespace) {
          this.byName.delete(sessionId);
          this.changed(sessionId);
        }
        return;
      }
      throw new Error(`deleting the Session failed: ${message}`);
    }
  }

  /** A list of Sessions succeeded: the cluster is back (or there for the first time). */
  private reachable() {
    const wasUnreachable = this.unreachable;
    this.unreachable = false;
    this.lastError = null;
    this.statusChanged();
    if (wasUnreachable) {
      this.nodes.retryNow();
      this.pods.retryNow();
    }
    // every session is looked at again against what the cluster now has
    this.changed(null);
  }

  private failed(what: string, err: unknown, failures: number) {
    this.logError(what, err, failures);
    if (failures < this.opts.unreachableAfter || this.unreachable) return;
    this.unreachable = true;
    this.statusChanged();
    this.changed(null);
  }

  private logError(what: string, err: unknown, failures: number) {
    const { message } = describeError(err);
    this.lastError = message;
    // the first failure in a row, then every tenth, so that an outage does not flood the log
    if (failures === 1 || failures % 10 === 0) {
      this.log.warn({ err: message, failures }, 'watching %s failed', what);
    }
  }

  /** Stops watching; the cluster's sessions keep running (the control plane stops them). */
  async close(): Promise<void> {
    await Promise.all([this.sessions.stop(), this.nodes.stop(), this.pods.stop()]);
    this.kube.close();
    this.changes.removeAllListeners();
  }
}
