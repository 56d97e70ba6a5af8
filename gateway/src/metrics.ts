// Prometheus metrics, on a registry of the gateway's own (tests start several gateways),
// served on a listener of their own (FLOE_GATEWAY_METRICS_PORT): what they tell (routes,
// sign-in outcomes, load) is for the operator, not for whoever reaches the users' port.
import { Hono } from 'hono';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { EdgeStats } from './edge/edge.ts';

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

/**
 * The session edge's counters (FLOE_GATEWAY_EDGE): what HAProxy answered without the
 * gateway never reaches the gateway's own request metrics, so they are read from HAProxy
 * at each scrape.
 */
export function registerEdgeMetrics(
  metrics: Metrics,
  edge: { stats(): Promise<EdgeStats>; readonly size: number },
) {
  let last: EdgeStats | null = null;
  const stats = async () => {
    last = await edge.stats().catch(() => last);
    return last;
  };
  // a counter can only be increased: each scrape adds what HAProxy counted since the last
  const seen = new Map<string, number>();
  const advance = (counter: Counter<string>, key: string, now: number, labels = {}) => {
    const before = seen.get(key) ?? 0;
    if (now > before) counter.inc(labels, now - before);
    seen.set(key, now);
  };
  const answers: Counter<'code'> = new Counter({
    name: 'floe_gateway_edge_responses_total',
    help: 'Answers of sessions the edge (HAProxy) sent without the gateway, by status class',
    labelNames: ['code'] as const,
    registers: [metrics.registry],
    async collect() {
      const s = await stats();
      for (const [code, n] of Object.entries(s?.answers ?? {})) {
        advance(answers, `answers:${code}`, n, { code });
      }
    },
  });
  const forwarded: Counter = new Counter({
    name: 'floe_gateway_edge_forwarded_total',
    help: 'Requests the edge passed on to the gateway',
    registers: [metrics.registry],
    async collect() {
      advance(forwarded, 'forwarded', (await stats())?.toGateway ?? 0);
    },
  });
  new Gauge({
    name: 'floe_gateway_edge_entries',
    help: 'Cookie, host and session triples the edge may take now',
    registers: [metrics.registry],
    collect() {
      this.set(edge.size);
    },
  });
}

/** The metrics listener's app: GET /metrics, and 404 for anything else. */
export function metricsApp(metrics: Metrics) {
  const app = new Hono();
  app.get('/metrics', async (c) =>
    c.text(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  app.notFound((c) => c.text('not found: the metrics listener serves /metrics only\n', 404));
  return app;
}
