// One log line and one metrics sample per request, when its answer is complete: for a
// proxied request that is when the proxy has finished writing it, not when the handler
// handed it over.
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { alreadySent, type GatewayEnv } from './env.ts';

/** What is logged of a request (its path only: query strings carry codes and states). */
export interface AccessEntry {
  method: string;
  /** the matched route, e.g. /sessions/:id/* (the metrics' label) */
  route: string;
  path: string;
  status: number;
  ms: number;
  user: string | undefined;
  upgrade?: true;
}

export type Samplers = {
  count: ReturnType<Metrics['requests']['labels']>;
  duration: ReturnType<Metrics['duration']['labels']>;
};
// the metrics' children by method, route and status: prom-client finds a child by hashing
// its labels on every call, which showed in the proxied requests' profile
const samplers = new WeakMap<Metrics, Map<string, Samplers>>();

export function samplersOf(
  metrics: Metrics,
  method: string,
  route: string,
  status: number,
): Samplers {
  let byKey = samplers.get(metrics);
  if (!byKey) {
    byKey = new Map();
    samplers.set(metrics, byKey);
  }
  const key = `${method} ${status} ${route}`;
  let found = byKey.get(key);
  if (!found) {
    found = {
      count: metrics.requests.labels({ method, route, status }),
      duration: metrics.duration.labels({ route }),
    };
    // bounded all the same: methods are the browser's to choose
    if (byKey.size >= 1_000) byKey.clear();
    byKey.set(key, found);
  }
  return found;
}

/** The log line and the metrics samples of one answered request. */
export function recordRequest(log: Logger, metrics: Metrics, e: AccessEntry) {
  const s = samplersOf(metrics, e.method, e.route, e.status);
  s.count.inc();
  s.duration.observe(e.ms / 1000);
  log.info(
    {
      method: e.method,
      path: e.path,
      status: e.status,
      ms: Math.round(e.ms * 10) / 10,
      user: e.user,
      ...(e.upgrade && { upgrade: true }),
    },
    'request',
  );
}

export function accessLog(log: Logger, metrics: Metrics): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath;
    const finish = (status: number) =>
      recordRequest(log, metrics, {
        method: c.req.method,
        route,
        path: c.req.path,
        status,
        ms: performance.now() - started,
        user: c.get('userLabel'),
        ...(c.env.upgrade && { upgrade: true as const }),
      });
    const outgoing = c.env.outgoing;
    if (!alreadySent(c.res)) finish(c.res.status);
    else if (c.env.upgrade) finish(101);
    else if (outgoing) outgoing.once('close', () => finish(outgoing.statusCode));
  };
}
