// HTTP requests forwarded to a session's endpoint over undici's connection pools (one per
// endpoint, connections kept alive): the request goes out without the gateway's
// credentials and hop-by-hop headers, with X-Forwarded-*, and the answer comes back as
// answer.ts allows (passive content only, plain headers, the gateway's security headers and
// a sandboxing CSP) or as a 502. It replaced http-proxy-3 with a keep-alive agent, whose
// request objects and passes took a sixth of the gateway's CPU in the profile before
// (docs/benchmarks.md); dispatching to undici's pool writes the answer straight to the Node
// response.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LookupFunction } from 'node:net';
import { Agent, type Dispatcher } from 'undici';
import { clientAddress, EDGE_CLIENT_HEADER } from '../http/client-address.ts';
import { SESSION_ANSWER_CSP, sessionAnswer } from './answer.ts';

/**
 * Never forwarded: the browser's credentials for the gateway (the session's pod runs the
 * user's app, and must not be able to replay them), hop-by-hop headers, and what the
 * gateway sets itself (Host is the endpoint's; X-Forwarded-* are extended below).
 */
const DROPPED_REQUEST = new Set([
  'cookie',
  'authorization',
  'proxy-authorization',
  'x-csrf-token',
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'x-forwarded-for',
  'x-forwarded-port',
  'x-forwarded-proto',
  'x-forwarded-host',
  EDGE_CLIENT_HEADER,
]);

/** The port a Host header names: `80` when it names none (a plain-HTTP listener's). */
function hostPort(host: string): string {
  const m = PORT.exec(host);
  return m ? (m[1] as string) : '80';
}
const PORT = /:(\d+)$/;

/** `value` appended to what the browser sent in header `name`, as http-proxy does (xfwd). */
function appended(before: string | string[] | undefined, value: string) {
  return typeof before === 'string' && before ? `${before},${value}` : value;
}

/** X-Forwarded-* as http-proxy writes them (xfwd): appended to what the browser sent. */
function appendForwarded(out: string[], req: IncomingMessage) {
  const h = req.headers;
  const host = h.host ?? '';
  out.push(
    'x-forwarded-for',
    appended(h['x-forwarded-for'], clientAddress(req) ?? ''),
    'x-forwarded-port',
    appended(h['x-forwarded-port'], hostPort(host)),
    'x-forwarded-proto',
    appended(h['x-forwarded-proto'], 'http'),
    'x-forwarded-host',
    (h['x-forwarded-host'] as string | undefined) || host,
  );
}

/** The request's headers as forwarded: a flat [name, value, …] list, as undici takes it. */
export function forwardedHeaders(req: IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (!DROPPED_REQUEST.has(name.toLowerCase())) out.push(name, raw[i + 1] as string);
  }
  appendForwarded(out, req);
  return out;
}

/** A request has a body when it says so (Content-Length above 0, or chunked). */
const hasBody = (req: IncomingMessage) =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

// The browser's response knows its exchange, and its listeners are functions all exchanges
// share: no closures to make for each request
const EXCHANGE = Symbol('floe.exchange');
type ExchangeResponse = ServerResponse & { [EXCHANGE]?: Exchange };
function browserClosed(this: ExchangeResponse) {
  this[EXCHANGE]?.closed();
}
function browserDrained(this: ExchangeResponse) {
  this[EXCHANGE]?.resume();
}

/** One forwarded exchange: writes the endpoint's answer to the browser as it arrives. */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | null = null;
  private readonly res: ServerResponse;
  private readonly forwarder: Forwarder;
  private readonly cookies: readonly string[];
  private readonly target: string;
  /** the browser's path, /sessions/{id}/…: where the session may redirect to */
  private readonly requestPath: string;
  private readonly ended: () => void;
  /** the answer was refused (a 502 sent): the rest of it is not read */
  private refused = false;
  private over = false;

  constructor(
    res: ServerResponse,
    forwarder: Forwarder,
    cookies: readonly string[],
    target: string,
    requestPath: string,
    onEnd: () => void,
  ) {
    this.res = res;
    this.forwarder = forwarder;
    this.cookies = cookies;
    this.target = target;
    this.requestPath = requestPath;
    this.ended = onEnd;
  }

  /** called once, however the exchange ended */
  onEnd() {
    if (this.over) return;
    this.over = true;
    this.ended();
  }

  /** the browser went away before the answer was complete: stop reading it from the session */
  closed() {
    if (!this.res.writableFinished) this.controller?.abort(new Error('the browser went away'));
  }

  resume() {
    this.controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController) {
    this.controller = controller;
    (this.res as ExchangeResponse)[EXCHANGE] = this;
    this.res.on('close', browserClosed);
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ) {
    if (status < 200) return; // 100 Continue and the like: the browser gets the final answer
    const answer = sessionAnswer(
      status,
      headers,
      this.requestPath,
      this.forwarder.security,
      this.cookies,
    );
    if (!answer.ok) {
      this.refused = true;
      this.forwarder.refusedAnswer(answer.reason, this.target);
      this.res.writeHead(502, this.forwarder.errorHeaders);
      this.res.end(REFUSED);
      this.onEnd();
      this.controller?.abort(new Error(answer.reason));
      return;
    }
    const length = headers['content-length'];
    if (typeof length === 'string') this.remaining = Number(length);
    try {
      this.res.writeHead(status, answer.headers);
    } catch (err) {
      // a header Node will not write (an invalid character): the session's answer is not one
      this.controller?.abort(err as Error);
    }
  }

  // bytes of the answer still to come, when it said (Content-Length): its last chunk goes
  // out with the end in one write to the browser instead of two
  private remaining = -1;

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer) {
    if (this.refused) return;
    if (this.remaining > 0) {
      this.remaining -= chunk.length;
      if (this.remaining <= 0) {
        this.res.end(chunk);
        return;
      }
    }
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', browserDrained);
    }
  }

  onResponseEnd() {
    if (this.refused) return;
    if (!this.res.writableEnded) this.res.end();
    this.onEnd();
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error) {
    this.onEnd();
    if (this.refused) return; // our own abort of a refused answer
    if (this.res.destroyed) return; // the browser's side ended it
    this.forwarder.failed(err, this.target);
    if (this.res.headersSent) {
      this.res.destroy();
      return;
    }
    this.res.writeHead(502, this.forwarder.errorHeaders);
    this.res.end(BAD_GATEWAY);
  }
}

/** The body of the 502 of a session that did not answer (the edge answers the same). */
export const BAD_GATEWAY = JSON.stringify({
  error: { code: 'bad_gateway', message: 'the session did not answer; try again' },
});
/** The body of the 502 that replaces a refused answer (the edge answers the same). */
export const REFUSED = JSON.stringify({
  error: {
    code: 'bad_gateway',
    message: 'the session answered with what the gateway does not pass on (see docs/security.md)',
  },
});

/** The gateway's security headers on a session's answers: its CSP sandboxes them. */
export function sessionAnswerSecurity(headers: Record<string, string>): [string, string][] {
  return Object.entries({ ...headers, 'content-security-policy': SESSION_ANSWER_CSP });
}

/** An endpoint's origin and path prefix, e.g. http://10.0.0.5:8080 and /s/{id}. */
type Endpoint = { origin: string; prefix: string };

export class Forwarder {
  /** the gateway's security headers on a session's answers: its CSP sandboxes them */
  readonly security: readonly (readonly [string, string])[];
  /** the headers of the gateway's own 502 */
  readonly errorHeaders: string[];
  readonly failed: (err: Error, target: string) => void;
  readonly refusedAnswer: (reason: string, target: string) => void;
  private readonly agent: Agent;
  private readonly endpoints = new Map<string, Endpoint>();

  constructor(opts: {
    /** the gateway's security headers */
    headers: Record<string, string>;
    /** called for each request the endpoint did not answer */
    onError: (err: Error, target: string) => void;
    /** called for each answer refused (answer.ts): a hostile or broken session */
    onRefused: (reason: string, target: string) => void;
    /** how endpoint host names are resolved; default the system's */
    lookup?: LookupFunction;
  }) {
    this.security = sessionAnswerSecurity(opts.headers);
    this.errorHeaders = [
      ...this.security.flat(),
      'content-type',
      'application/json',
      'cache-control',
      'no-store',
    ];
    this.failed = opts.onError;
    this.refusedAnswer = opts.onRefused;
    // 64 connections per endpoint: one stream's page, assets and API calls never need more
    // at a time, and a burst waits for a free one rather than opening hundreds. No body
    // timeout: a session's answer may be a stream that is quiet for a while (as before,
    // with http-proxy, which had none)
    this.agent = new Agent({
      connections: 64,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      bodyTimeout: 0,
      ...(opts.lookup && { connect: { lookup: opts.lookup } }),
    });
  }

  private endpoint(target: string): Endpoint {
    let found = this.endpoints.get(target);
    if (!found) {
      const url = new URL(target);
      found = { origin: url.origin, prefix: url.pathname.replace(/\/+$/, '') };
      if (this.endpoints.size >= 10_000) this.endpoints.clear();
      this.endpoints.set(target, found);
    }
    return found;
  }

  /**
   * Forwards `req` to `target` (the session's endpoint) at `path` (what follows
   * /sessions/{id}, with the query) and writes its answer to `res`, with `cookies`.
   * `onEnd` is called once the exchange is over, however it ended.
   */
  forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: string,
    path: string,
    cookies: readonly string[],
    onEnd: () => void,
  ) {
    const { origin, prefix } = this.endpoint(target);
    const body = hasBody(req) ? req : null;
    if (!body) req.resume(); // nothing to read, but 'end' must come
    const exchange = new Exchange(res, this, cookies, target, req.url ?? '', onEnd);
    try {
      this.agent.dispatch(
        {
          origin,
          path: prefix + path,
          method: req.method ?? 'GET',
          headers: forwardedHeaders(req),
          body,
        },
        exchange,
      );
    } catch (err) {
      // undici refused the request itself (e.g. a header it will not send): a 502, not a crash
      exchange.onResponseError(null, err as Error);
    }
  }

  close() {
    return this.agent.close();
  }
}
