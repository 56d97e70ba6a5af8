// Reconciles one Session key, level-triggered and idempotent: it reads the Session and its
// pod, Service and VirtualService from the informers' caches, decides (desired.ts,
// status.ts) and writes only what differs. Running it twice in a row writes nothing the
// second time; running it after a crash at any point finishes the job.
import { randomBytes } from 'node:crypto';
import type { Informer } from '@floe/kube/informer';
import {
  apply,
  deleteIfExists,
  isConflict,
  isNotFound,
  type Kube,
  KubeApiError,
} from '@floe/kube/kube';
import { at, type KubeObject, type Pod, R } from '@floe/kube/resources';
import type { Logger } from 'pino';
import { FINALIZER, podName, SESSION_RESOURCE, type Session, type SessionStatus } from './crd.ts';
import {
  type DesiredSettings,
  desiredAppEgressPolicy,
  desiredClaimQuota,
  desiredEgressPolicy,
  desiredGpuClaimTemplate,
  desiredHomeClaim,
  desiredNamespace,
  desiredNetworkPolicy,
  desiredPod,
  desiredService,
  desiredViewerKeys,
  desiredVirtualService,
  desiredXauthSecret,
  EGRESS_POLICY_NAME,
  NETWORK_POLICY_NAME,
  type PublicJwk,
  RESOURCE_QUOTA_NAME,
  sessionEndpoint,
} from './desired.ts';
import { decideWithFreshInput } from './idle.ts';
import { decide, isTerminal, sameStatus } from './status.ts';

export interface ReconcilerDeps {
  kube: Kube;
  sessions: Informer<Session>;
  pods: Informer<Pod>;
  services: Informer<KubeObject & { spec?: unknown }>;
  virtualServices: Informer<KubeObject & { spec?: unknown }>;
  settings: DesiredSettings;
  log: Logger;
  /** the streamer's last input (see idle.ts); undefined: unknown; fresh: not from a cache */
  lastInput: (key: string, pod: Pod, ask?: { fresh?: boolean }) => Promise<Date | null | undefined>;
  /** how often a Running session with an idle timeout is looked at again */
  idleCheckMs: number;
  /** the gateway's public keys (viewer-keys.ts), with settings.viewerIssuer */
  viewerKeys?: { current(): Promise<PublicJwk[]> };
  now?: () => Date;
}

export class Reconciler {
  private readonly d: ReconcilerDeps;
  /** tenant namespaces whose labels, policy and quota are applied, with what was applied */
  private readonly tenants = new Map<string, string>();
  /** home claims known to exist (they are never changed nor deleted by the operator) */
  private readonly claims = new Set<string>();
  /** our last status write per Session uid: fresher than the cache right after writing */
  private readonly written = new Map<string, SessionStatus>();
  /** the gateway's keys last applied to each Session's viewer-keys ConfigMap, by uid */
  private readonly viewerKeysApplied = new Map<string, string>();

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
  }

  /** Forgets per-session memory of a Session that is gone. */
  forget(uid: string | undefined) {
    if (uid) {
      this.written.delete(uid);
      this.viewerKeysApplied.delete(uid);
    }
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number } | undefined> {
    const session = this.d.sessions.get(key);
    if (!session) return undefined; // deleted: its owned objects go with it (ownerReferences)
    const log = this.d.log.child({ session: key });
    if (session.metadata.deletionTimestamp) {
      await this.finalize(session, log);
      return undefined;
    }
    await this.ensureTenant(session, log);

    const ns = session.metadata.namespace;
    const name = podName(session.metadata.name);
    const pod = this.d.pods.get(`${ns}/${name}`);
    const uid = session.metadata.uid ?? '';
    const previous = this.written.get(uid);
    const now = this.d.now?.() ?? new Date();

    const prevPhase = previous?.phase ?? session.status?.phase;
    // only a Running session with an idle timeout asks its streamer
    const lastInputAt =
      prevPhase === 'Running' && pod && session.spec.timeouts?.idleSeconds
        ? await this.d.lastInput(key, pod)
        : undefined;
    const asked = {
      session,
      pod: ownedBy(pod, session) ? pod : undefined,
      now,
      endpoint: sessionEndpoint(session, this.d.settings),
      lastInputAt,
      previous: newer(previous, session.status),
    };
    // a cached answer may predate an "I'm still here": only a fresh one may stop it
    const fresh = await decideWithFreshInput(asked, async () =>
      pod ? this.d.lastInput(key, pod, { fresh: true }) : asked.lastInputAt,
    );
    const { input } = fresh;
    let decision = fresh.decision;

    // These writes do not depend on each other, so they go out together: a launch waits for
    // one API round trip here rather than five. Should the Session be deleted before its
    // finalizer lands, its owned objects still go, through their ownerReferences.
    const writes: Promise<unknown>[] = [];
    if (!session.metadata.finalizers?.includes(FINALIZER)) {
      writes.push(
        this.patchFinalizers(session, [...(session.metadata.finalizers ?? []), FINALIZER]),
      );
    }
    if (!isTerminal(decision.status.phase)) {
      writes.push(
        this.ensureHomeClaim(session, log),
        this.ensureRouting(session),
        this.ensureViewerKeys(session),
      );
    }
    const created = decision.pod === 'create' ? this.createPod(session, log) : undefined;
    await settleAll(created ? [...writes, created] : writes);
    const refusal = await created;
    if (refusal) decision = decide({ ...input, podRejected: refusal });
    if (decision.pod === 'delete') {
      await deleteIfExists(this.d.kube, at(R.pod, ns, name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        preconditions: pod?.metadata.uid ? { uid: pod.metadata.uid } : undefined,
      });
      log.info(
        { pod: name, phase: decision.status.phase, reason: decision.status.reason },
        'pod deleted',
      );
    }

    if (!sameStatus(decision.status, session.status) && !sameStatus(decision.status, previous)) {
      await this.d.kube.request(
        'patch',
        at(SESSION_RESOURCE, ns, session.metadata.name, 'status'),
        {
          // the whole status, conditions included (a merge patch replaces lists)
          body: { status: { ...nulls(session.status), ...decision.status } },
          contentType: 'application/merge-patch+json',
        },
      );
      this.written.set(uid, decision.status);
      log.info(
        {
          phase: decision.status.phase,
          reason: decision.status.reason,
          node: decision.status.node,
        },
        'status',
      );
    }

    let requeue = decision.requeueAfterMs;
    if (decision.status.phase === 'Running' && session.spec.timeouts?.idleSeconds) {
      requeue = Math.min(requeue ?? Number.POSITIVE_INFINITY, this.d.idleCheckMs);
    }
    return requeue === undefined ? undefined : { requeueAfterMs: requeue };
  }

  /** Creates the pod; a refusal by admission (quota) or validation is returned, to be told. */
  private async createPod(
    session: Session,
    log: Logger,
  ): Promise<{ code: number; message: string } | undefined> {
    const name = podName(session.metadata.name);
    try {
      await this.ensurePodNeeds(session, log);
      await this.d.kube.request('create', at(R.pod, session.metadata.namespace), {
        body: desiredPod(session, this.d.settings),
      });
      log.info({ pod: name }, 'pod created');
    } catch (err) {
      if (err instanceof KubeApiError && (err.status === 403 || err.status === 422)) {
        log.warn({ pod: name, err: err.message }, 'pod refused');
        return { code: err.status, message: err.message };
      }
      // 409: made by an earlier run whose event has not reached the cache yet
      if (!isConflict(err)) throw err;
    }
    return undefined;
  }

  /**
   * What the pod mounts or is fenced by, before the pod: its home claim (a scheduler that
   * sees the pod first reports the claim missing), its X cookie, owned by the Session like the
   * pod (made once: a cookie that changed under a running X server would lock its clients
   * out), and its app's extra egress.
   */
  private async ensurePodNeeds(session: Session, log: Logger) {
    const ns = session.metadata.namespace;
    const secret = desiredXauthSecret(session, randomBytes(16));
    const egress = desiredAppEgressPolicy(session);
    const gpuClaim = desiredGpuClaimTemplate(session, this.d.settings);
    await settleAll([
      gpuClaim
        ? this.d.kube
            .request('create', at(R.resourceClaimTemplate, ns), { body: gpuClaim })
            .catch((err) => {
              if (!isConflict(err)) throw err;
            })
        : undefined,
      this.ensureHomeClaim(session, log),
      this.d.kube.request('create', at(R.secret, ns), { body: secret }).catch((err) => {
        if (!isConflict(err)) throw err; // made by an earlier run: kept as it is
      }),
      egress
        ? apply(this.d.kube, at(R.networkPolicy, ns, egress.metadata.name), egress)
        : undefined,
      this.ensureViewerKeys(session),
    ]);
  }

  /**
   * The session's copy of the gateway's public keys, applied when they differ from what was
   * applied last (a rotation): its streamer reads the mounted file again. No keys to be had
   * (the gateway's JWKS unreachable since the operator started): the reconcile fails and is
   * retried; a pod would take no viewer without them.
   */
  private async ensureViewerKeys(session: Session) {
    const source = this.d.viewerKeys;
    if (!source || !this.d.settings.viewerIssuer) return;
    const configMap = desiredViewerKeys(session, await source.current());
    const uid = session.metadata.uid ?? '';
    const data = configMap.data['jwks.json'];
    if (this.viewerKeysApplied.get(uid) === data) return;
    const { namespace, name } = configMap.metadata;
    await apply(this.d.kube, at(R.configMap, namespace, name), configMap);
    this.viewerKeysApplied.set(uid, data);
  }

  /** The Session is being deleted: its pod, Service and VirtualService go, its home stays. */
  private async finalize(session: Session, log: Logger) {
    if (!session.metadata.finalizers?.includes(FINALIZER)) return;
    const ns = session.metadata.namespace;
    const name = podName(session.metadata.name);
    const owned = [
      [this.d.pods, R.pod],
      [this.d.services, R.service],
      [this.d.virtualServices, R.virtualService],
    ] as const;
    for (const [informer, kind] of owned) {
      if (ownedBy(informer.get(`${ns}/${name}`), session)) {
        await deleteIfExists(this.d.kube, at(kind, ns, name));
      }
    }
    await this.patchFinalizers(
      session,
      (session.metadata.finalizers ?? []).filter((f) => f !== FINALIZER),
    );
    this.forget(session.metadata.uid);
    log.info('finalized: pod, service and route deleted, home kept');
  }

  /** Sets the finalizers, only if the Session is still the version we read. */
  private async patchFinalizers(session: Session, finalizers: string[]) {
    await this.d.kube.request(
      'patch',
      at(SESSION_RESOURCE, session.metadata.namespace, session.metadata.name),
      {
        body: { metadata: { finalizers, resourceVersion: session.metadata.resourceVersion } },
        contentType: 'application/merge-patch+json',
      },
    );
  }

  /** Namespace labels, ingress and egress policies, GPU quota: once per tenant and content. */
  private async ensureTenant(session: Session, log: Logger) {
    const ns = session.metadata.namespace;
    const quota = desiredClaimQuota(session, this.d.settings);
    const objects = [
      desiredNamespace(session),
      desiredNetworkPolicy(session, this.d.settings),
      desiredEgressPolicy(session, this.d.settings),
      quota,
    ];
    const fingerprint = JSON.stringify(objects);
    if (this.tenants.get(ns) === fingerprint) return;
    await apply(this.d.kube, at(R.namespace, undefined, ns), objects[0]);
    // independent of each other once the namespace exists
    await Promise.all([
      quota
        ? apply(this.d.kube, at(R.resourceQuota, ns, RESOURCE_QUOTA_NAME), quota)
        : deleteIfExists(this.d.kube, at(R.resourceQuota, ns, RESOURCE_QUOTA_NAME)),
      apply(this.d.kube, at(R.networkPolicy, ns, NETWORK_POLICY_NAME), objects[1]),
      apply(this.d.kube, at(R.networkPolicy, ns, EGRESS_POLICY_NAME), objects[2]),
    ]);
    this.tenants.set(ns, fingerprint);
    log.info(
      { namespace: ns, maxGpus: session.spec.tenant.maxGpus ?? null },
      'tenant namespace set up',
    );
  }

  /** The home claim is created once and then left alone: it holds the user's files. */
  private async ensureHomeClaim(session: Session, log: Logger) {
    const claim = desiredHomeClaim(session);
    if (!claim) return;
    const key = `${claim.metadata.namespace}/${claim.metadata.name}`;
    if (this.claims.has(key)) return;
    try {
      await this.d.kube.request('create', at(R.pvc, claim.metadata.namespace), { body: claim });
      log.info({ claim: claim.metadata.name }, 'home claim created');
    } catch (err) {
      if (!isConflict(err)) throw err; // it exists: a relaunch reuses it as it is
    }
    this.claims.add(key);
  }

  /** Service and VirtualService, applied when the cache shows them missing or different. */
  private async ensureRouting(session: Session) {
    const ns = session.metadata.namespace;
    const name = podName(session.metadata.name);
    const svc = desiredService(session);
    const vs = desiredVirtualService(session, this.d.settings);
    await settleAll([
      matches(this.d.services.get(`${ns}/${name}`), svc)
        ? undefined
        : apply(this.d.kube, at(R.service, ns, name), svc),
      matches(this.d.virtualServices.get(`${ns}/${name}`), vs)
        ? undefined
        : apply(this.d.kube, at(R.virtualService, ns, name), vs).catch((err) => {
            // without Istio's CRDs there is nothing to route with: the Service still serves
            if (!isNotFound(err)) throw err;
          }),
    ]);
  }
}

/** Waits for every write, then fails with the first error if any failed. */
async function settleAll(writes: (Promise<unknown> | undefined)[]): Promise<void> {
  const results = await Promise.allSettled(writes);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** Whether an object in the cache belongs to this Session (and not to an older namesake). */
function ownedBy<T extends KubeObject>(obj: T | undefined, session: Session): obj is T {
  if (!obj) return false;
  const refs = obj.metadata.ownerReferences ?? [];
  return refs.some((r) => r.uid === session.metadata.uid);
}

/** Whether the cached object already has the desired labels and spec. */
function matches(
  actual: (KubeObject & { spec?: unknown }) | undefined,
  desired: { metadata: KubeObject['metadata']; spec: unknown },
): boolean {
  if (!actual) return false;
  const labelsOk = Object.entries(desired.metadata.labels ?? {}).every(
    ([k, v]) => actual.metadata.labels?.[k] === v,
  );
  return labelsOk && contains(actual.spec, desired.spec);
}

/** Every field of `want` is in `have` with the same value (the server adds defaults). */
function contains(have: unknown, want: unknown): boolean {
  if (Array.isArray(want)) {
    return (
      Array.isArray(have) &&
      have.length === want.length &&
      want.every((w, i) => contains(have[i], w))
    );
  }
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object') return false;
    return Object.entries(want).every(([k, v]) =>
      contains((have as Record<string, unknown>)[k], v),
    );
  }
  return have === want;
}

/** Fields of the old status that the new one lacks are removed by the merge patch. */
function nulls(status: SessionStatus | undefined): Record<string, null> {
  return Object.fromEntries(Object.keys(status ?? {}).map((k) => [k, null]));
}

/** Our last write, unless the cache has moved past it (someone else wrote since). */
function newer(written: SessionStatus | undefined, cached: SessionStatus | undefined) {
  if (!written) return cached;
  if (cached && isTerminal(cached.phase) && !isTerminal(written.phase)) return cached;
  return written;
}
