// Prometheus metrics, on a registry of the gateway's own (tests start several gateways),
// served on a listener of their own (FLOE_GATEWAY_METRICS_PORT): what they tell (routes,
// sign-in outcomes, load) is for the operator, not for whoever reaches the users' port.
import { Hono } from 'hono';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'floe_gateway_' });
  return {
    registry,
    requests: new Counter({
      name: 'floe_gateway_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'floe_gateway_request_duration_seconds',
      help: 'Time to answer HTTP requests (to the end of the response), by route',
      labelNames: ['route'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    upstreamErrors: new Counter({
      name: 'floe_gateway_upstream_errors_total',
      help: 'Requests the gateway could not complete upstream (control, session, idp)',
      labelNames: ['upstream'] as const,
      registers: [registry],
    }),
    websockets: new Gauge({
      name: 'floe_gateway_websockets_open',
      help: 'Proxied WebSocket connections open now',
      registers: [registry],
    }),
    logins: new Counter({
      name: 'floe_gateway_logins_total',
      help: 'Sign-ins by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    // the fleet's health as the gateway's probes see it (a real allocation each round): the
    // one place a TURN outage shows, since Debian's coturn has no Prometheus exporter
    turnServers: new Gauge({
      name: 'floe_gateway_turn_servers',
      help: 'TURN servers this gateway offers, by health (healthy, unhealthy)',
      labelNames: ['state'] as const,
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The metrics listener's app: GET /metrics, and 404 for anything else. */
export function metricsApp(metrics: Metrics) {
  const app = new Hono();
  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  app.notFound((c) => c.text('not found: the metrics listener serves /metrics only\n', 404));
  return app;
}
