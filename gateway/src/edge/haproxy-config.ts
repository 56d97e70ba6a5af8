// PURE: the HAProxy configuration of the session edge (edge.ts). HAProxy holds the users'
// port; a GET or HEAD of a session's own path whose cookie, host and session the gateway has
// already let through (an entry of the map, keyed by the cookie's SHA-256) goes straight to
// the session, with the same answer rules as the gateway's (sessions/answer.ts, rendered
// here from the same lists); everything else goes to the gateway on its private socket.
import { EDGE_CLIENT_HEADER } from '../http/client-address.ts';
import {
  GATEWAY_X_HEADERS,
  PASSIVE_FAMILIES,
  PASSIVE_TYPES,
  PLAIN_HEADERS,
} from '../sessions/answer.ts';
import { DOT_SEGMENT, OWN_PATHS, OWN_PREFIXES, SESSION_URL } from '../sessions/fast-path.ts';

export interface EdgeConfig {
  /** the users' listener */
  host: string;
  port: number;
  /** HAProxy's threads (its `nbthread`) */
  threads: number;
  /** the gateway's private socket (a Unix socket path) */
  gatewaySocket: string;
  /** HAProxy's runtime API, for the map's entries */
  adminSocket: string;
  /** the map of sessions the edge may take: `hash|host|session` → `ip|port|prefix|host` */
  mapFile: string;
  /** the gateway's session cookie (its name depends on https) */
  cookieName: string;
  /** headers on every session answer and on the edge's own 502s, the gateway's */
  security: readonly (readonly [string, string])[];
  /** the body of the 502 that replaces a refused answer */
  refusedBody: string;
  /** the body of the 502 (503, 504) of a session that did not answer */
  badGatewayBody: string;
  /** an access log line per request on HAProxy's standard output */
  accessLog: boolean;
}

/** `..` segments a redirect may have (each pass resolves one); one more is refused. */
const DOT_PASSES = 8;

const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const alternatives = (xs: Iterable<string>) => [...xs].map(re).join('|');

/** A value in double quotes, as HAProxy reads them (escapes: \" \\ \$). */
export function quoted(value: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`a value HAProxy cannot hold: ${value}`);
  return `"${value.replace(/[\\"$]/g, '\\$&')}"`;
}

/** A PCRE in single quotes, which HAProxy takes as it is (but `#`: write \x23). */
function single(pattern: string): string {
  if (/['#]/.test(pattern)) throw new Error(`a pattern HAProxy would cut: ${pattern}`);
  return `'${pattern}'`;
}

/** The Content-Type values a session may answer with: answer.ts's passiveType. */
export function passiveTypePattern(): string {
  const families = PASSIVE_FAMILIES.map((f) => re(f.slice(0, -1))).join('|');
  return `^\\s*(?:${alternatives(PASSIVE_TYPES)}|(?:${families})/(?:(?!xml)[^;\\s])+)\\s*(?:;|$)`;
}

/** The names of a session's answer headers that are dropped: all but answer.ts's plainHeader. */
export function droppedHeaderPattern(): string {
  // content-type, -disposition and location are checked (and set) by the rules before
  const kept = ['content-type', 'content-disposition', 'location', ...PLAIN_HEADERS];
  return `^(?!(?:${alternatives(kept)}|(?!(?:${alternatives(GATEWAY_X_HEADERS)})$)x-.*)$)`;
}

/**
 * Rules that resolve the dot segments of txn.loc as a browser does: `.` segments go, and each
 * pass takes one `..` with the segment before it. What is left after DOT_PASSES is refused.
 * (A converter's regex cannot hold parentheses here, so: no groups.) A segment of dots only,
 * such as `...`, is not taken with a `..`: such a redirect is refused, not misread.
 */
function dotSegmentRules(): string {
  const set = (pattern: string) =>
    `  http-response set-var(txn.loc) var(txn.loc),regsub(${single(pattern)},/,g) if redirect`;
  const dots = [set('/\\./'), set('/\\./'), set('/\\.$')];
  const segment = '/[^/]*[^/.][^/]*/\\.\\.';
  const dotDots = Array.from({ length: DOT_PASSES }, () => [
    set(`${segment}/`),
    set(`${segment}$`),
  ]);
  return [...dots, ...dotDots.flat()].join('\n');
}

/** HAProxy's configuration of the edge. */
export function renderEdgeConfig(c: EdgeConfig): string {
  const security = c.security.map(([name, value]) => [name, quoted(value)] as const);
  const errorHeaders = [...security, ['cache-control', 'no-store'] as const]
    .map(([name, value]) => `hdr ${name} ${value}`)
    .join(' ');
  const refuse = `return status 502 content-type application/json string ${single(c.refusedBody)} ${errorHeaders}`;
  const ownPaths = [...OWN_PATHS].join(' ');
  return `# written by the Floe gateway (gateway/src/edge/): do not edit, it is rewritten at start
global
  stats socket ${c.adminSocket} mode 600 level admin
  nbthread ${c.threads}
${c.accessLog ? '  log stdout format raw local0 info\n' : ''}
defaults
  mode http
${c.accessLog ? '  log global\n  option httplog\n  option dontlognull\n' : ''}  timeout connect 5s
  timeout http-request 10s
  timeout http-keep-alive 60s
  timeout client 60s
  # a session's answer may be a stream that is quiet for a while, as through the gateway
  timeout server 24h
  timeout tunnel 24h
  timeout client-fin 5s
  timeout server-fin 5s

frontend users
  bind ${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}
  # the browser's address, for the gateway: only ever the edge's own
  http-request del-header ${EDGE_CLIENT_HEADER}
  http-request set-header ${EDGE_CLIENT_HEADER} %[src]

  # what the gateway's fast path takes (sessions/fast-path.ts): its URLs, but not its own routes
  acl fast_url url -m reg ${single(SESSION_URL.source)}
  http-request set-var(txn.sid) path,field(3,/) if fast_url
  http-request set-var(txn.rest) path,regsub(${single('^/sessions/[^/]+')},) if fast_url
  acl own_route var(txn.rest) -m str ${ownPaths}
  acl own_route var(txn.rest) -m beg ${OWN_PREFIXES.join(' ')}
  acl dot_segment var(txn.rest) -m reg ${single(DOT_SEGMENT.source)}
  acl safe_method method GET HEAD
  acl upgrade req.hdr(upgrade) -m found
  acl one_host req.hdr_cnt(host) eq 1
  http-request set-var(txn.host) req.hdr(host),lower if fast_url
  http-request set-var(txn.key) req.cook(${c.cookieName}),sha2(256),hex,concat(|,txn.host,|),concat(,txn.sid,) if fast_url safe_method one_host !upgrade !own_route !dot_segment
  http-request set-var(txn.dest) var(txn.key),map_str(${c.mapFile}) if { var(txn.key) -m found }
  use_backend sessions if { var(txn.dest) -m found }
  default_backend gateway

backend gateway
  server gateway unix@${c.gatewaySocket}

backend sessions
  # the session's address, path prefix and Host, from the map (edge.ts)
  http-request set-dst var(txn.dest),field(1,|)
  http-request set-dst-port var(txn.dest),field(2,|)
  http-request set-var(txn.prefix) var(txn.dest),field(3,|)
  http-request set-var(txn.dir) path,regsub(${single('[^/]*$')},)
  http-request set-var(txn.inside) str(/sessions/),concat(,txn.sid,/)
  http-request set-path %[var(txn.prefix)]%[var(txn.rest)]
  http-request set-header host %[var(txn.dest),field(4,|)]
  # never to the session: the browser's credentials for the gateway (forward.ts)
  http-request del-header cookie
  http-request del-header authorization
  http-request del-header proxy-authorization
  http-request del-header x-csrf-token
  http-request del-header ${EDGE_CLIENT_HEADER}
  option forwardfor
  http-request add-header x-forwarded-proto http
  # the port the Host header names (80 when it names none), as forward.ts's hostPort
  http-request set-var(txn.port) var(txn.host),regsub(${single('^.*:')},)
  http-request set-var(txn.port) str(80) unless { var(txn.port) -m reg ${single('^[0-9]+$')} }
  http-request add-header x-forwarded-port %[var(txn.port)]
  http-request set-header x-forwarded-host %[var(txn.host)] unless { req.hdr(x-forwarded-host) -m found }
  http-reuse always
  # idle connections to sessions are kept a minute, as nginx's upstream keepalive: HAProxy's
  # default (half of them closed every 5 s) made new connections, and their wait, under load
  server session 0.0.0.0:0 pool-purge-delay 60s
  retries 0
${[502, 503, 504].map((status) => `  http-error status ${status} content-type application/json string ${single(c.badGatewayBody)} ${errorHeaders}`).join('\n')}

  # the session's answer, as answer.ts's sessionAnswer has it
  http-response del-header content-disposition unless { res.hdr(content-disposition) -m reg -i ${single('^\\s*attachment\\b')} }
  acl typed res.hdr(content-type) -m found
  acl bodiless status 204 304
  http-response set-header content-disposition attachment if !typed !bodiless
  http-response set-header content-type application/octet-stream if !typed !bodiless
  acl passive res.hdr(content-type) -m reg -i ${single(passiveTypePattern())}
  acl many_types res.hdr_cnt(content-type) gt 1
  http-response ${refuse} if many_types || typed !passive
  # a redirect: only within the session's own path (answer.ts's withinSession), read as the
  # browser would resolve it (without its query); the header itself passes as it is
  acl redirect res.hdr(location) -m found
  acl many_locations res.hdr_cnt(location) gt 1
  http-response ${refuse} if many_locations
  http-response set-var(txn.loc) res.hdr(location),regsub(${single('[?\\x23].*$')},) if redirect
  acl relative var(txn.loc) -m reg ${single('^(?![a-zA-Z][a-zA-Z0-9+.-]*:|[/\\\\])')}
  http-response set-var(txn.loc) var(txn.dir),concat(,txn.loc,) if redirect relative
${dotSegmentRules()}
  acl inside var(txn.loc),bytes(0,47),strcmp(txn.inside) eq 0
  acl tricky var(txn.loc) -m reg -i ${single('%2e|\\\\|/\\.\\.?(?:/|$)|[\\x00-\\x20\\x7f]')}
  http-response ${refuse} if redirect !inside || redirect tricky
  http-response del-header ${single(droppedHeaderPattern())} -m reg
${security.map(([name, value]) => `  http-response set-header ${name} ${value}`).join('\n')}
`;
}
