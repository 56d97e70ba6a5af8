// Wires the operator together: informers (on every replica, so a new leader starts warm),
// the work queue and its workers (on the leader only), the Lease, metrics and probes.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Informer, type InformerEvent, keyOf, kubeListerWatcher } from '@floe/kube/informer';
import { connectKube, NotLeaderError } from '@floe/kube/kube';
import { LeaderElector } from '@floe/kube/leader';
import { runWorkers, WorkQueue } from '@floe/kube/queue';
import { type KubeObject, type Pod, R } from '@floe/kube/resources';
import { KubeConfig } from '@kubernetes/client-node';
import { type Logger, pino } from 'pino';
import { type OperatorConfig, type OperatorConfigInput, parseConfig } from './config.ts';
import { LABELS, MANAGED_BY_OPERATOR, SESSION_RESOURCE, type Session } from './crd.ts';
import { createIdleProbe } from './idle.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { Reconciler } from './reconciler.ts';
import { ViewerKeys } from './viewer-keys.ts';

export interface StartOperatorOptions {
  /** a kubeconfig file, or a loaded KubeConfig; none: config.kubeconfig, else in-cluster */
  kubeconfig?: string | KubeConfig;
  config?: OperatorConfigInput;
  logger?: Logger;
  /** collect Node.js process metrics too (the CLI does; tests running many do not) */
  processMetrics?: boolean;
}

export interface Operator {
  config: OperatorConfig;
  metrics: Metrics;
  isLeader(): boolean;
  /** true once every informer has listed and watches */
  isReady(): boolean;
  /** where /metrics, /healthz and /readyz are served, e.g. http://127.0.0.1:9090 */
  url: string;
  /** stops workers, informers and the server; a leader releases its Lease */
  close(): Promise<void>;
}

export function loadKubeConfig(kubeconfig: string | KubeConfig | undefined): KubeConfig {
  if (kubeconfig instanceof KubeConfig) return kubeconfig;
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  return kc;
}

export async function startOperator(opts: StartOperatorOptions = {}): Promise<Operator> {
  const config = parseConfig({ ...opts.config });
  const log = opts.logger ?? pino({ level: config.logLevel, base: { id: config.id } });
  const kc = loadKubeConfig(opts.kubeconfig ?? config.kubeconfig);

  let sessionsInformer: Informer<Session> | undefined;
  const metrics = createMetrics(() => sessionsInformer?.list() ?? [], {
    defaults: opts.processMetrics,
  });
  const countRequest = (verb: string, resource: string) =>
    metrics.kubeRequests.inc({ verb, resource });

  let leading = !config.leaderElect;
  // writes of the reconciler are refused the moment leadership is lost
  const kube = connectKube(kc, { onRequest: countRequest, mayWrite: () => leading });
  const leaseKube = connectKube(kc, { onRequest: countRequest });

  const queue = new WorkQueue({ onDepth: (d) => metrics.queueDepth.set(d) });
  const enqueue = (key: string) => queue.add(key);
  const selector = `${LABELS.managedBy}=${MANAGED_BY_OPERATOR}`;
  const resyncMs = config.resync * 1000;
  const informerOpts = (name: string) => ({
    name,
    resyncMs,
    onConnected: (c: boolean) => {
      metrics.informerConnected.set({ informer: name }, c ? 1 : 0);
      log.info({ informer: name, connected: c }, c ? 'watching' : 'watch lost');
    },
    onError: (err: unknown, retryInMs: number) =>
      log.warn({ informer: name, err: (err as Error).message, retryInMs }, 'list/watch failed'),
  });

  const idleProbe = createIdleProbe({ intervalMs: config.idleCheck * 1000 });
  let reconciler: Reconciler | undefined;
  const sessions = new Informer<Session>(kubeListerWatcher(kube, SESSION_RESOURCE), {
    ...informerOpts('sessions'),
    onEvent: (event: InformerEvent, s: Session) => {
      const key = keyOf(s);
      if (event === 'delete') {
        reconciler?.forget(s.metadata.uid);
        idleProbe.forget(key);
      }
      enqueue(key);
    },
  });
  sessionsInformer = sessions;
  /** an owned object's event wakes its Session (found through the controller reference) */
  const ownerKey = (event: InformerEvent, o: KubeObject) => {
    if (event === 'resync') return; // the Session's own resync covers it
    const owner = o.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Session');
    if (owner && o.metadata.namespace) enqueue(`${o.metadata.namespace}/${owner.name}`);
  };
  const owned = <T extends KubeObject>(name: string, kind: typeof R.pod) =>
    new Informer<T>(kubeListerWatcher(kube, kind, selector), {
      ...informerOpts(name),
      resyncMs: 0,
      onEvent: ownerKey,
    });
  const pods = owned<Pod>('pods', R.pod);
  const services = owned<KubeObject>('services', R.service);
  const virtualServices = owned<KubeObject>('virtualservices', R.virtualService);
  const informers = [sessions, pods, services, virtualServices];

  // the gateway's public keys for the streamers: a change (a rotation) wakes every Session
  const viewerKeys = config.viewerJwksUrl
    ? new ViewerKeys({
        url: config.viewerJwksUrl,
        onChange: () => {
          log.info('the gateway’s public keys changed: updating every session’s copy');
          for (const key of sessions.keys()) enqueue(key);
        },
      })
    : undefined;
  const viewerKeysTimer =
    viewerKeys &&
    setInterval(() => {
      viewerKeys.refresh().catch((err: Error) => {
        log.warn({ err: err.message, url: config.viewerJwksUrl }, 'the gateway’s keys unreachable');
      });
    }, config.viewerKeysRefresh * 1000);
  viewerKeysTimer?.unref();
  reconciler = new Reconciler({
    kube,
    sessions,
    pods,
    services,
    virtualServices,
    settings: config,
    log,
    lastInput: idleProbe,
    idleCheckMs: config.idleCheck * 1000,
    viewerKeys,
  });
  const r = reconciler;

  const handle = async (key: string) => {
    const end = metrics.reconcileDuration.startTimer();
    try {
      const result = await r.reconcile(key);
      metrics.reconcileTotal.inc({
        result: result?.requeueAfterMs !== undefined ? 'requeue' : 'ok',
      });
      return result;
    } finally {
      end();
    }
  };
  const onError = (key: string, err: unknown, retryInMs: number) => {
    metrics.reconcileTotal.inc({ result: 'error' });
    if (err instanceof NotLeaderError) return; // leadership lost mid-reconcile: the next leader goes on
    metrics.reconcileErrors.inc();
    log.warn({ session: key, err: (err as Error).message, retryInMs }, 'reconcile failed');
  };

  let workers: ReturnType<typeof runWorkers> | undefined;
  const startWorkers = async () => {
    // act on a complete picture: a Session's pod missing from a half-filled cache would be
    // created twice otherwise
    await Promise.all(informers.map((i) => i.synced));
    if (!leading || workers) return;
    for (const key of sessions.keys()) enqueue(key);
    workers = runWorkers(queue, config.workers, handle, onError);
    log.info({ workers: config.workers }, 'reconciling');
  };
  const stopWorkers = async () => {
    const w = workers;
    workers = undefined;
    await w?.stop();
  };

  const elector = config.leaderElect
    ? new LeaderElector(leaseKube, {
        namespace: config.leaderElectionNamespace,
        name: 'floe-operator',
        identity: config.id,
        leaseDurationMs: config.leaseDuration * 1000,
        renewDeadlineMs: config.renewDeadline * 1000,
        retryPeriodMs: config.retryPeriod * 1000,
        onStartedLeading: () => {
          leading = true;
          metrics.leader.set(1);
          log.info('became the leader');
          void startWorkers();
        },
        onStoppedLeading: () => {
          leading = false;
          metrics.leader.set(0);
          log.warn('lost the leadership: stopped reconciling');
          void stopWorkers();
        },
        onError: (err) => log.warn({ err: (err as Error).message }, 'leader election'),
      })
    : undefined;

  const server = await serve(config.metricsAddr, metrics, () =>
    informers.every((i) => i.hasSynced),
  );
  for (const i of informers) i.start();
  if (elector) {
    if (config.leaderElect) await ensureNamespace(leaseKube, config.leaderElectionNamespace, log);
    elector.start();
  } else {
    metrics.leader.set(1);
    void startWorkers();
  }
  const addr = server.address() as AddressInfo;
  log.info({ metrics: `http://${addr.address}:${addr.port}` }, 'operator started');

  return {
    config,
    metrics,
    isLeader: () => leading,
    isReady: () => informers.every((i) => i.hasSynced),
    url: `http://${addr.address}:${addr.port}`,
    async close() {
      if (viewerKeysTimer) clearInterval(viewerKeysTimer);
      await stopWorkers();
      await elector?.stop();
      queue.shutDown();
      await Promise.all(informers.map((i) => i.stop()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      kube.close();
      leaseKube.close();
    },
  };
}

/** The Lease's namespace, created when missing (a development cluster has none). */
async function ensureNamespace(kube: ReturnType<typeof connectKube>, name: string, log: Logger) {
  try {
    await kube.request('get', { ...R.namespace, name });
  } catch {
    try {
      await kube.request('create', R.namespace, {
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      });
      log.info({ namespace: name }, 'created the leader election namespace');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'cannot create the leader election namespace');
    }
  }
}

function serve(addr: string, metrics: Metrics, ready: () => boolean): Promise<Server> {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i) || '0.0.0.0';
  const port = Number(addr.slice(i + 1));
  const server = createServer(async (req, res) => {
    if (req.url === '/metrics') {
      res.setHeader('content-type', metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else if (req.url === '/healthz') {
      res.end('ok\n');
    } else if (req.url === '/readyz') {
      const ok = ready();
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? 'ok\n' : 'informers not synced\n');
    } else {
      res.statusCode = 404;
      res.end('not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
