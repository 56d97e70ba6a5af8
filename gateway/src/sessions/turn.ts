// ICE servers for a session's browser: the region's TURN servers that the health probes
// find healthy (a real allocation each round), with TURN REST credentials minted for this
// session only and short-lived.
import { type IceServer, iceServersFor, mintTurnCredentials, TurnFleet } from '@floe/turn';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';

export class TurnOffer {
  private readonly fleet: TurnFleet;
  private readonly secret: string;
  private readonly ttlSeconds: number;

  constructor(opts: {
    urls: string[];
    secret: string;
    ttlSeconds: number;
    intervalMs: number;
    log: Logger;
    metrics?: Pick<Metrics, 'turnServers'>;
  }) {
    this.secret = opts.secret;
    this.ttlSeconds = opts.ttlSeconds;
    this.fleet = new TurnFleet({
      servers: opts.urls.map((url) => ({ url })),
      secret: opts.secret,
      intervalMs: opts.intervalMs,
      probeSessionId: 'floe-gateway-probe',
      onChange: (h) => {
        opts.log.info(
          { turn: h.url, healthy: h.healthy, error: h.lastError },
          'TURN server health',
        );
        this.report(opts.metrics);
      },
    });
    this.report(opts.metrics);
  }

  /** The gauge of healthy and unhealthy servers, recounted from the fleet's state. */
  private report(metrics: Pick<Metrics, 'turnServers'> | undefined) {
    if (!metrics || !this.fleet) return;
    const healthy = this.fleet.healthy().length;
    metrics.turnServers.set({ state: 'healthy' }, healthy);
    metrics.turnServers.set({ state: 'unhealthy' }, this.fleet.status().length - healthy);
  }

  start() {
    this.fleet.start();
  }

  /** Resolves once every server has been probed once (tests; a start that must not lie). */
  checkNow() {
    return this.fleet.checkNow();
  }

  /** Healthy servers first by round trip, one entry each, with this session's credential. */
  iceServers(sessionId: string): { iceServers: IceServer[]; expiresAt: string | null } {
    const healthy = this.fleet.choose();
    if (healthy.length === 0) return { iceServers: [], expiresAt: null };
    const creds = mintTurnCredentials({
      secret: this.secret,
      sessionId,
      ttlSeconds: this.ttlSeconds,
    });
    return {
      iceServers: iceServersFor(
        healthy.map((h) => ({ urls: [h.url] })),
        creds,
      ),
      expiresAt: creds.expiresAt.toISOString(),
    };
  }

  stop() {
    return this.fleet.stop();
  }
}
