// PURE: the configuration of floe-edge (gateway/edge-proxy), the edge written for Floe: the
// same settings as HAProxy's (haproxy-config.ts), and the rules of sessions/answer.ts and
// sessions/fast-path.ts as their own lists and patterns, which the edge applies as they do.
import { EDGE_CLIENT_HEADER } from '../http/client-address.ts';
import {
  GATEWAY_X_HEADERS,
  PASSIVE_FAMILIES,
  PASSIVE_TYPES,
  PLAIN_HEADERS,
} from '../sessions/answer.ts';
import { DOT_SEGMENT, OWN_PATHS, OWN_PREFIXES, SESSION_URL } from '../sessions/fast-path.ts';
import type { EdgeConfig } from './haproxy-config.ts';

/** floe-edge's configuration file (its Config in edge-proxy/src/main.rs). */
export function renderFloeEdgeConfig(c: EdgeConfig): string {
  return JSON.stringify({
    host: c.host,
    port: c.port,
    gatewaySocket: c.gatewaySocket,
    adminSocket: c.adminSocket,
    cookieName: c.cookieName,
    edgeClientHeader: EDGE_CLIENT_HEADER,
    security: c.security,
    refusedBody: c.refusedBody,
    badGatewayBody: c.badGatewayBody,
    accessLog: c.accessLog,
    sessionUrl: SESSION_URL.source,
    dotSegment: DOT_SEGMENT.source,
    ownPaths: [...OWN_PATHS],
    ownPrefixes: [...OWN_PREFIXES],
    passiveTypes: [...PASSIVE_TYPES],
    passiveFamilies: [...PASSIVE_FAMILIES],
    plainHeaders: [...PLAIN_HEADERS],
    gatewayXHeaders: [...GATEWAY_X_HEADERS],
  });
}
