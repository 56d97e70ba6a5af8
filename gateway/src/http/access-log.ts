// One log line and one metrics sample per request, when its answer is complete: for a
// proxied request that is when the proxy has finished writing it, not when the handler
// handed it over.
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { alreadySent, type GatewayEnv } from './env.ts';

export function accessLog(log: Logger, metrics: Metrics): MiddlewareHandler<GatewayEnv> {
  return async (c, next) => {
    const started = performance.now();
    await next();
    const route = c.req.routePath;
    const finish = (status: number) => {
      const ms = performance.now() - started;
      metrics.requests.inc({ method: c.req.method, route, status });
      metrics.duration.observe({ route }, ms / 1000);
      // the path only: query strings carry authorization codes and states
      log.info(
        {
          method: c.req.method,
          path: c.req.path,
          status,
          ms: Math.round(ms * 10) / 10,
          user: c.get('userLabel'),
          ...(c.env.upgrade && { upgrade: true }),
        },
        'request',
      );
    };
    const outgoing = c.env.outgoing;
    if (!alreadySent(c.res)) finish(c.res.status);
    else if (c.env.upgrade) finish(101);
    else if (outgoing) outgoing.once('close', () => finish(outgoing.statusCode));
  };
}
