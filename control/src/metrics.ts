import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * One registry per control-plane instance (tests run several in one process).
 * `clustersUp`: each cluster with a driver watching it, 1 while connected.
 */
export function createMetrics(
  activeSessions: () => Promise<Record<string, number>>,
  clustersUp: () => Promise<Record<string, number>> = async () => ({}),
  outbox: () => Promise<{ pending: number; oldestSeconds: number }> = async () => ({
    pending: 0,
    oldestSeconds: 0,
  }),
) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Histogram({
      name: 'floe_http_request_duration_seconds',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    launches: new Counter({
      name: 'floe_session_launches_total',
      help: 'Launch requests by outcome (admitted, quota_exceeded, no_capacity, ...)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    transitions: new Counter({
      name: 'floe_session_transitions_total',
      help: 'Session state transitions by target state',
      labelNames: ['to'],
      registers: [registry],
    }),
    sessions: new Gauge({
      name: 'floe_sessions',
      help: 'Sessions not yet ended, by state',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [state, n] of Object.entries(await activeSessions())) this.set({ state }, n);
      },
    }),
    clusterUp: new Gauge({
      name: 'floe_cluster_up',
      help: 'Whether the control plane reaches the cluster (1) or not (0)',
      labelNames: ['cluster'],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [cluster, up] of Object.entries(await clustersUp())) this.set({ cluster }, up);
      },
    }),
    billingPeriodsClosed: new Counter({
      name: 'floe_billing_periods_closed_total',
      help: 'Billing periods closed by themselves after their grace (FLOE_BILLING_AUTO_CLOSE_HOURS)',
      registers: [registry],
    }),
    quotaEvents: new Counter({
      name: 'floe_quota_events_total',
      help: 'Quota events recorded (quota.warning at 90 % of a budget, quota.exceeded at 100 %)',
      labelNames: ['type'],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'floe_webhook_attempts_total',
      help: 'Webhook delivery attempts by outcome (succeeded, failed)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    webhookGivenUp: new Counter({
      name: 'floe_webhook_deliveries_given_up_total',
      help: 'Webhook deliveries given up after retrying for the whole retry window',
      registers: [registry],
    }),
    webhookEndpointsDisabled: new Counter({
      name: 'floe_webhook_endpoints_disabled_total',
      help: 'Webhook endpoints disabled after sustained failure',
      registers: [registry],
    }),
    webhookAttemptSeconds: new Histogram({
      name: 'floe_webhook_attempt_duration_seconds',
      help: 'How long a webhook delivery attempt took (request to response)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    webhookLag: new Histogram({
      name: 'floe_webhook_delivery_lag_seconds',
      help: 'From the event (its transaction) to its successful delivery',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 3600, 86400],
      registers: [registry],
    }),
    webhookBacklog: new Gauge({
      name: 'floe_webhook_pending',
      help: 'Webhook deliveries waiting to be sent (`oldest_seconds`: age of the oldest due one)',
      labelNames: ['measure'],
      registers: [registry],
      async collect() {
        const { pending, oldestSeconds } = await outbox();
        this.set({ measure: 'count' }, pending);
        this.set({ measure: 'oldest_seconds' }, oldestSeconds);
      },
    }),
    kubeRequests: new Counter({
      name: 'floe_cluster_kube_requests_total',
      help: 'Requests to clusters’ Kubernetes API servers, by verb and resource',
      labelNames: ['cluster', 'verb', 'resource'],
      registers: [registry],
    }),
  };
}
