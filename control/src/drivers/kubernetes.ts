import { EventEmitter } from 'node:events';
import type { Informer } from '@floe/kube/informer';
import { connectKube, type Kube } from '@floe/kube/kube';
import { tenantNamespace } from '@floe/operator/crd';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { DriverRef } from '../db/schema.ts';
import type { Capacity, ClusterDriver, ClusterStatus, DriverEvent, LaunchSpec } from './driver.ts';
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

/** What the driver knows of one active session of its cluster. */
interface Tracked {
  /** the control plane asked for its stop: its Session's disappearance means stopped */
  stopping: boolean;
  /** its Session was seen (or the session had started before): missing now means vanished */
  observed: boolean;
  /** the last state reported, so that status updates that change nothing stay quiet */
  reported: DriverEvent['state'] | null;
  /** the launch, until its Session is created */
  spec: LaunchSpec | null;
  attempts: number;
  retry: NodeJS.Timeout | null;
}

type Op = (id: string) => Promise<void>;

/** A request that failed without the cluster's answer (or with a 5xx or 429): worth retrying. */
const retriable = (status: number | undefined) =>
  status === undefined || status === 429 || status >= 500;

/**
 * Runs sessions on one Kubernetes cluster as `Session` resources (operator/src/crd.ts): a
 * launch creates one in the tenant's namespace, a stop deletes it, and its status, watched,
 * moves the session's state. Watches of Nodes and of the GPU pods that are not Floe's keep
 * the cluster's capacity current without a request per launch. While the cluster cannot be
 * reached, its sessions are reported `unknown`, and stops and launches wait for its return;
 * on return, every session is reported as the cluster then has it.
 */
export class KubernetesDriver implements ClusterDriver {
  private readonly events = new EventEmitter();
  private readonly tracked = new Map<string, Tracked>();
  /** the Sessions this control plane wrote, by name (= session id), as last seen */
  private readonly byName = new Map<string, SessionObject>();
  /** namespaces of sessions an earlier process launched, from their driver refs */
  private readonly refNamespace = new Map<string, string>();
  /** per session, so that a stop never overtakes its launch's create */
  private readonly queues = new Map<string, Promise<void>>();
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
  private orphansPending: Array<() => void> | null = null;
  private capacityCache: GpuCapacity[] | null = null;
  private closed = false;

  constructor(opts: KubernetesDriverOptions) {
    this.opts = { backoff: { initialMs: 250, maxMs: 10_000 }, unreachableAfter: 2, ...opts };
    this.log = opts.log.child({ cluster: opts.name });
    this.kube = connectKube(opts.kubeConfig, { onRequest: opts.countRequest });
    const common = {
      backoff: { baseMs: this.opts.backoff.initialMs, maxMs: this.opts.backoff.maxMs, jitter: 0 },
      // each return of the cluster is a list, which the driver reconciles against
      relistAfterError: true,
    };
    const dirty = () => {
      this.capacityCache = null;
    };
    this.sessions = sessionInformer(this.kube, {
      ...common,
      onEvent: (event, s, listed) => {
        if (event === 'delete') this.gone(s, listed);
        else this.observed(s);
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

  watch(listener: (event: DriverEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  private report(sessionId: string, event: Omit<DriverEvent, 'sessionId'>) {
    const t = this.tracked.get(sessionId);
    if (t) {
      if (t.reported === event.state) return;
      t.reported = event.state;
    }
    if (event.state === 'stopped' || event.state === 'failed') this.forget(sessionId);
    this.events.emit('event', { sessionId, ...event });
  }

  private forget(sessionId: string) {
    const t = this.tracked.get(sessionId);
    if (t?.retry) clearTimeout(t.retry);
    this.tracked.delete(sessionId);
  }

  // -------------------------------------------------------------------------------------
  // Requests, one at a time per session, retried with backoff while the cluster is away

  private serial(sessionId: string, op: Op): Promise<void> {
    const previous = this.queues.get(sessionId) ?? Promise.resolve();
    const next = previous
      .then(() => (this.closed ? undefined : op(sessionId)))
      .catch((err) => this.log.error({ err, sessionId }, 'a request for a session failed'))
      .finally(() => {
        if (this.queues.get(sessionId) === next) this.queues.delete(sessionId);
      });
    this.queues.set(sessionId, next);
    return next;
  }

  private retryLater(sessionId: string, op: Op) {
    const t = this.tracked.get(sessionId);
    if (!t || this.closed) return;
    if (t.retry) clearTimeout(t.retry);
    const { initialMs, maxMs } = this.opts.backoff;
    const delay = Math.min(initialMs * 2 ** t.attempts, maxMs);
    t.attempts++;
    t.retry = setTimeout(() => {
      t.retry = null;
      void this.serial(sessionId, op);
    }, delay);
    t.retry.unref();
  }

  async launch(spec: LaunchSpec): Promise<void> {
    if (this.tracked.has(spec.sessionId)) return;
    this.tracked.set(spec.sessionId, {
      stopping: false,
      observed: false,
      reported: null,
      spec,
      attempts: 0,
      retry: null,
    });
    if (this.unreachable) this.report(spec.sessionId, { state: 'unknown' });
    await this.serial(spec.sessionId, this.create);
  }

  private readonly create: Op = async (sessionId) => {
    const t = this.tracked.get(sessionId);
    if (!t?.spec || t.stopping) return;
    let body: ReturnType<typeof sessionObject>;
    try {
      body = sessionObject(t.spec, this.opts.labels());
    } catch (err) {
      return this.report(sessionId, { state: 'failed', reason: (err as Error).message });
    }
    try {
      await this.ensureNamespace(t.spec.tenantId);
      await createSession(this.kube, body);
    } catch (err) {
      const { status, message } = describeError(err);
      if (status !== 409) {
        if (retriable(status)) {
          this.log.warn({ sessionId, err: message }, 'creating a Session failed; retrying');
          return this.retryLater(sessionId, this.create);
        }
        return this.report(sessionId, {
          state: 'failed',
          reason: `the cluster refused the Session: ${message}`,
        });
      }
      // 409 AlreadyExists: an earlier attempt got through
    }
    t.spec = null;
    t.attempts = 0;
  };

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

  async terminate(sessionId: string, ref: DriverRef | null): Promise<void> {
    this.remember(sessionId, ref);
    let t = this.tracked.get(sessionId);
    if (!t) {
      // a stop left by an earlier process, or of a session this one never saw
      t = { stopping: true, observed: false, reported: null, spec: null, attempts: 0, retry: null };
      this.tracked.set(sessionId, t);
    }
    t.stopping = true;
    if (t.spec) this.refNamespace.set(sessionId, tenantNamespace(t.spec.tenantId));
    t.spec = null;
    t.attempts = 0;
    await this.serial(sessionId, this.remove);
  }

  private readonly remove: Op = async (sessionId) => {
    const t = this.tracked.get(sessionId);
    if (!t) return;
    const namespace = this.namespaceOf(sessionId, t);
    if (!namespace) {
      // never seen, never launched here: once the cluster answers, its absence is the answer
      if (this.status() === 'connected') {
        return this.report(sessionId, { state: 'stopped', reason: 'stopped on request' });
      }
      return this.retryLater(sessionId, this.remove);
    }
    try {
      await deleteSession(this.kube, namespace, sessionId);
      // gone at once without a finalizer, else once the operator has cleaned up: the
      // watch tells (and a re-list, if the watch misses it)
    } catch (err) {
      const { status, message } = describeError(err);
      if (status === 404) {
        return this.report(sessionId, { state: 'stopped', reason: 'stopped on request' });
      }
      this.log.warn({ sessionId, err: message }, 'deleting a Session failed; retrying');
      this.retryLater(sessionId, this.remove);
    }
  };

  /** Where a session's Session lives: seen there, or its launch's tenant, or its driver ref. */
  private namespaceOf(sessionId: string, t: Tracked): string | null {
    const seen = this.byName.get(sessionId)?.metadata.namespace;
    if (seen) return seen;
    if (t.spec) return tenantNamespace(t.spec.tenantId);
    return this.refNamespace.get(sessionId) ?? null;
  }

  async adopt(sessionId: string, ref: DriverRef | null): Promise<void> {
    this.remember(sessionId, ref);
    if (this.tracked.has(sessionId)) return;
    this.tracked.set(sessionId, {
      stopping: false,
      observed: true,
      reported: null,
      spec: null,
      attempts: 0,
      retry: null,
    });
    if (this.status() === 'connected') this.reportFromCache(sessionId);
    else if (this.unreachable) this.report(sessionId, { state: 'unknown' });
  }

  async removeOrphans(): Promise<void> {
    if (this.status() === 'connected') return this.deleteOrphans();
    // as soon as the cluster answers; startup does not wait for a cluster that is away
    this.orphansPending ??= [];
  }

  private async deleteOrphans() {
    const orphans = [...this.byName.values()].filter(
      (s) => !this.tracked.has(s.metadata.name) && !s.metadata.deletionTimestamp,
    );
    for (const s of orphans) {
      this.log.info({ sessionId: s.metadata.name }, 'removing a Session no session owns');
      try {
        await deleteSession(this.kube, s.metadata.namespace, s.metadata.name);
      } catch (err) {
        const { status, message } = describeError(err);
        if (status !== 404) this.log.warn({ err: message }, 'removing an orphan Session failed');
      }
    }
  }

  private remember(sessionId: string, ref: DriverRef | null) {
    if (typeof ref?.namespace === 'string') this.refNamespace.set(sessionId, ref.namespace);
  }

  // -------------------------------------------------------------------------------------
  // What the Sessions watch says (a Session is named by its session's id)

  private observed(s: SessionObject) {
    const sessionId = s.metadata.name;
    this.byName.set(sessionId, s);
    const t = this.tracked.get(sessionId);
    if (!t) return;
    t.observed = true;
    if (t.spec) {
      // seen before our create answered (or after a retry): it exists
      t.spec = null;
      if (t.retry) clearTimeout(t.retry);
      t.retry = null;
    }
    const report = sessionReport(s);
    if (!report) return;
    // a stop in progress: only its end counts
    if (t.stopping && report.state !== 'stopped' && report.state !== 'failed') return;
    this.report(sessionId, { ...report, ref: { namespace: s.metadata.namespace } });
    if (report.state === 'stopped' || report.state === 'failed') {
      // ended: the Session has served its purpose (its finalizer cleans up what it owns)
      void this.serial(sessionId, async () => {
        try {
          await deleteSession(this.kube, s.metadata.namespace, s.metadata.name);
        } catch (err) {
          const { status, message } = describeError(err);
          if (status !== 404) this.log.warn({ sessionId, err: message }, 'deleting failed');
        }
      });
    }
  }

  private gone(s: SessionObject, listed: boolean) {
    const sessionId = s.metadata.name;
    this.byName.delete(sessionId);
    this.refNamespace.delete(sessionId);
    const t = this.tracked.get(sessionId);
    if (!t) return;
    if (t.stopping) this.report(sessionId, { state: 'stopped', reason: 'stopped on request' });
    else {
      const how = listed ? 'vanished' : 'was deleted';
      this.report(sessionId, { state: 'failed', reason: `its Session resource ${how}` });
    }
  }

  private reportFromCache(sessionId: string) {
    const t = this.tracked.get(sessionId);
    if (!t) return;
    const s = this.byName.get(sessionId);
    if (s) return this.observed(s);
    if (t.observed) {
      if (t.stopping) this.report(sessionId, { state: 'stopped', reason: 'stopped on request' });
      else this.report(sessionId, { state: 'failed', reason: 'its Session resource vanished' });
    } else if (t.spec) {
      // its create had not got through: now is the time
      if (t.retry) clearTimeout(t.retry);
      t.retry = null;
      t.attempts = 0;
      void this.serial(sessionId, this.create);
    } else if (t.stopping) {
      this.report(sessionId, { state: 'stopped', reason: 'stopped on request' });
    }
  }

  /** A list of Sessions succeeded: the cluster is back (or there for the first time). */
  private reachable() {
    const wasUnreachable = this.unreachable;
    this.unreachable = false;
    this.lastError = null;
    this.statusChanged();
    for (const sessionId of [...this.tracked.keys()]) {
      const t = this.tracked.get(sessionId);
      if (!t) continue;
      const waiting = t.retry !== null;
      if (t.retry) clearTimeout(t.retry);
      t.retry = null;
      if (waiting) t.attempts = 0;
      if (t.stopping) {
        // a stop that waited for the cluster goes through now (the watch reports its end)
        if (waiting) void this.serial(sessionId, this.remove);
        else if (!this.byName.has(sessionId)) this.reportFromCache(sessionId);
      } else if (wasUnreachable || waiting || (t.reported === null && !t.spec)) {
        // after an outage, every session; else launches that waited and adopted sessions
        this.reportFromCache(sessionId);
      }
    }
    if (wasUnreachable) {
      this.nodes.retryNow();
      this.pods.retryNow();
    }
    if (this.orphansPending) {
      this.orphansPending = null;
      void this.deleteOrphans();
    }
  }

  private failed(what: string, err: unknown, failures: number) {
    this.logError(what, err, failures);
    if (failures < this.opts.unreachableAfter || this.unreachable) return;
    this.unreachable = true;
    this.statusChanged();
    for (const [sessionId, t] of this.tracked) {
      if (!t.stopping)
        this.report(sessionId, { state: 'unknown', reason: 'its cluster is unreachable' });
    }
  }

  private logError(what: string, err: unknown, failures: number) {
    const { message } = describeError(err);
    this.lastError = message;
    // the first failure in a row, then every tenth, so that an outage does not flood the log
    if (failures === 1 || failures % 10 === 0) {
      this.log.warn({ err: message, failures }, 'watching %s failed', what);
    }
  }

  async close(opts: { terminate?: boolean } = {}): Promise<void> {
    if (opts.terminate) {
      await Promise.all([...this.tracked.keys()].map((id) => this.terminate(id, null)));
    }
    this.closed = true;
    for (const t of this.tracked.values()) if (t.retry) clearTimeout(t.retry);
    await Promise.all([this.sessions.stop(), this.nodes.stop(), this.pods.stop()]);
    await Promise.allSettled(this.queues.values());
    this.kube.close();
    this.events.removeAllListeners();
  }
}
