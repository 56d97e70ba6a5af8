// One gateway process per core (FLOE_GATEWAY_WORKERS > 1), with node:cluster: the primary
// forks the workers, which share the users' port (the primary hands each new connection
// to the next worker), restarts a worker that dies, serves /metrics summed over the
// workers (prom-client's AggregatorRegistry), and relays a session stop from the worker
// that forwarded it to the others, which answer once they have forgotten it: a stop is
// answered to the browser only when no worker would still proxy to the session.
//
// What stays per worker: the caches (cookies, sessions, tenants). A cookie's renewal and a
// user's launch rate are shared through the control plane, by workers as by replicas.
// Signing keys must be shared: FLOE_GATEWAY_KEYS is required.
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { GatewayConfig } from './config.ts';
import type { Metrics } from './metrics.ts';

/** worker → primary: forget this session, answer when all others have */
const FORGET = 'floe:forget-session';
/** primary → worker: forget this session (relayed), then acknowledge */
const FORGET_RELAYED = 'floe:forget-session-relayed';
/** worker → primary: done */
const FORGOTTEN_RELAYED = 'floe:forgotten-relayed';
/** primary → the first worker: every worker has forgotten it */
const FORGOTTEN = 'floe:forgotten';

/** A stop waits this long at most for the other workers (their cache lasts a second). */
const FORGET_TIMEOUT_MS = 1_000;

type Message = { type?: string; id?: string; seq?: number };

export interface Peers {
  /** Resolves once every other worker has forgotten the session. */
  forget(id: string): Promise<void>;
}

/**
 * In a worker: answers the primary's metrics requests with this worker's registry, forgets
 * the sessions other workers stopped, and returns the way to tell them of its own stops.
 */
export function joinCluster(opts: { metrics: Metrics; forgetLocally(id: string): void }): Peers {
  AggregatorRegistry.setRegistries([opts.metrics.registry]);
  new AggregatorRegistry(); // installs the worker's answer to the primary's metrics requests
  const waiting = new Map<number, () => void>();
  let seq = 0;
  process.on('message', (msg: Message) => {
    if (msg?.type === FORGET_RELAYED && typeof msg.id === 'string') {
      opts.forgetLocally(msg.id);
      process.send?.({ type: FORGOTTEN_RELAYED, seq: msg.seq });
    } else if (msg?.type === FORGOTTEN && typeof msg.seq === 'number') {
      waiting.get(msg.seq)?.();
    }
  });
  return {
    forget(id) {
      return new Promise<void>((resolve) => {
        const n = seq++;
        const done = () => {
          waiting.delete(n);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(done, FORGET_TIMEOUT_MS);
        waiting.set(n, done);
        process.send?.({ type: FORGET, id, seq: n });
      });
    },
  };
}

/** In the primary: relays each worker's session stops to the others. */
export function relayStops() {
  const pending = new Map<number, { left: number; done: () => void }>();
  let seq = 0;
  cluster.on('message', (from: Worker, msg: Message) => {
    if (msg?.type === FORGOTTEN_RELAYED && typeof msg.seq === 'number') {
      const p = pending.get(msg.seq);
      if (p && --p.left === 0) p.done();
      return;
    }
    if (msg?.type !== FORGET || typeof msg.id !== 'string') return;
    const others = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => !!w && w !== from && w.isConnected(),
    );
    const n = seq++;
    const done = () => {
      pending.delete(n);
      clearTimeout(timer);
      if (from.isConnected()) from.send({ type: FORGOTTEN, seq: msg.seq });
    };
    const timer = setTimeout(done, FORGET_TIMEOUT_MS);
    if (others.length === 0) return done();
    pending.set(n, { left: others.length, done });
    for (const w of others) w.send({ type: FORGET_RELAYED, id: msg.id, seq: n });
  });
}

/** The primary's /metrics: every worker's, summed (gauges too: WebSockets open in all). */
function metricsServer(): Server {
  const aggregator = new AggregatorRegistry();
  return createServer((req, res) => {
    if (req.method !== 'GET' || req.url?.split('?', 1)[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found: the metrics listener serves /metrics only\n');
      return;
    }
    aggregator.clusterMetrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': aggregator.contentType });
        res.end(text);
      },
      (err: Error) => {
        res.writeHead(503, { 'content-type': 'text/plain' });
        res.end(`the workers did not answer: ${err.message}\n`);
      },
    );
  });
}

export interface Primary {
  url: string;
  metricsUrl: string;
  close(): Promise<void>;
}

const urlHost = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** Forks `workers` gateway processes (this same program) and watches over them. */
export async function startPrimary(config: GatewayConfig, log: Logger): Promise<Primary> {
  const workers = config.FLOE_GATEWAY_WORKERS;
  let stopping = false;
  relayStops();
  const listening = new Promise<number>((resolve, reject) => {
    let up = 0;
    cluster.on('listening', (_worker, address) => {
      if (++up === workers) resolve(address.port);
    });
    cluster.once('exit', (_w, code) => {
      if (up < workers) reject(new Error(`a gateway worker exited with ${code} at start`));
    });
  });
  cluster.on('exit', (worker, code, signal) => {
    // exit 0: it was told to stop (a signal to the process group reaches it before this)
    if (stopping || code === 0) return;
    log.error({ pid: worker.process.pid, code, signal }, 'gateway worker died; starting another');
    cluster.fork();
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  const port = await listening;

  const metrics = metricsServer();
  const metricsHost = config.FLOE_GATEWAY_METRICS_HOST ?? config.FLOE_GATEWAY_HOST;
  const metricsPort = await new Promise<number>((resolve, reject) => {
    metrics.once('error', reject);
    metrics.listen(config.FLOE_GATEWAY_METRICS_PORT, metricsHost, () => {
      const address = metrics.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  return {
    url: `http://${urlHost(config.FLOE_GATEWAY_HOST)}:${port}`,
    metricsUrl: `http://${urlHost(metricsHost)}:${metricsPort}/metrics`,
    async close() {
      stopping = true;
      metrics.close();
      const live = Object.values(cluster.workers ?? {}).filter(
        (w): w is Worker => !!w && !w.isDead(),
      );
      const exits = live.map(
        (w) => new Promise<void>((resolve) => w.once('exit', () => resolve())),
      );
      for (const w of live) w.process.kill('SIGTERM');
      // a worker that does not stop in 10 s is killed
      const timer = setTimeout(() => {
        for (const w of live) if (!w.isDead()) w.process.kill('SIGKILL');
      }, 10_000);
      await Promise.all(exits);
      clearTimeout(timer);
    },
  };
}
