// The operator's Prometheus metrics, on a registry of its own (several operators may run in
// one test process).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { SESSION_PHASES, type Session } from './crd.ts';

export function createMetrics(
  sessions: () => Iterable<Session>,
  opts: { defaults?: boolean } = {},
) {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'floe_operator_' });
  const reconcileTotal = new Counter({
    name: 'floe_operator_reconcile_total',
    help: 'Reconciles of a Session key, by result (ok, requeue, error)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const reconcileDuration = new Histogram({
    name: 'floe_operator_reconcile_duration_seconds',
    help: 'Duration of one reconcile',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const reconcileErrors = new Counter({
    name: 'floe_operator_reconcile_errors_total',
    help: 'Reconciles that failed (retried with backoff)',
    registers: [registry],
  });
  const queueDepth = new Gauge({
    name: 'floe_operator_queue_depth',
    help: 'Session keys waiting in the work queue',
    registers: [registry],
  });
  const kubeRequests = new Counter({
    name: 'floe_operator_kube_requests_total',
    help: 'Requests this process made to the Kubernetes API, by verb and resource',
    labelNames: ['verb', 'resource'] as const,
    registers: [registry],
  });
  const leader = new Gauge({
    name: 'floe_operator_leader',
    help: '1 while this replica holds the leader Lease',
    registers: [registry],
  });
  const informerConnected = new Gauge({
    name: 'floe_operator_informer_connected',
    help: '1 while the informer of a kind has a working watch',
    labelNames: ['informer'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'floe_operator_sessions',
    help: 'Sessions in the cache, by phase',
    labelNames: ['phase'] as const,
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(SESSION_PHASES.map((p) => [p, 0]));
      for (const s of sessions()) {
        const p = s.status?.phase ?? 'Pending';
        counts.set(p, (counts.get(p) ?? 0) + 1);
      }
      for (const [phase, n] of counts) this.set({ phase }, n);
    },
  });
  return {
    registry,
    reconcileTotal,
    reconcileDuration,
    reconcileErrors,
    queueDepth,
    kubeRequests,
    leader,
    informerConnected,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
