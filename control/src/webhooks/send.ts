// HTTP attempts at webhook deliveries. A name is resolved when a connection is opened, every
// address it resolves to is checked (target.ts), and the connection goes to the address
// that was checked (the connector's lookup hook): no second resolution an attacker's DNS
// could answer differently (DNS rebinding). Connections are kept alive per origin (undici's
// pools), so a busy endpoint costs one TCP (and TLS) handshake per few hundred deliveries
// rather than one each; a kept connection is to an address checked when it was opened.
// Redirects are not followed; a response's body is read up to a cap and then dropped; the
// whole attempt has a deadline.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { type BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent } from 'undici';
import type { AttemptResult } from './policy.ts';
import { addressRefusal, type TargetPolicy } from './target.ts';

export interface SendOptions {
  policy: TargetPolicy;
  denied: BlockList;
  timeoutMs: number;
  /** response bytes read at most; the rest is not read */
  maxResponseBytes: number;
}

/** A refused target: not worth a connection, reported like a failed attempt. */
class TargetRefused extends Error {}

/** The lookup hook: resolves, refuses if any address is refused, answers with the checked ones. */
function checkedLookup(opts: SendOptions): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as LookupAddress[];
      for (const a of list) {
        const refused = addressRefusal(a.address, opts.policy, opts.denied);
        if (refused) return callback(new TargetRefused(`${hostname}: ${refused}`), '', 0);
      }
      if (list.length === 0) return callback(new Error(`${hostname} has no address`), '', 0);
      if (options.all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      const first = list[0] as LookupAddress;
      callback(null, first.address, first.family);
    });
  };
}

/** The error an attempt reports, from what undici threw (the cause of a failed connect). */
function attemptError(err: unknown, timedOut: boolean, opts: SendOptions): string {
  if (timedOut) return `no answer within ${opts.timeoutMs} ms`;
  let e: unknown = err;
  while (e instanceof Error) {
    if (e instanceof TargetRefused) return `refused: ${e.message}`;
    if (!e.cause) break;
    e = e.cause;
  }
  return e instanceof Error ? e.message : String(err);
}

export class WebhookSender {
  private readonly opts: SendOptions;
  private readonly agent: Agent;

  constructor(opts: SendOptions) {
    this.opts = opts;
    // 16 connections per origin: the worker's 50 in flight spread over endpoints, and one
    // receiver is not opened a connection per delivery in a burst. Idle ones are closed
    // after 4 s, under the 5 s most servers keep an idle connection.
    this.agent = new Agent({
      connections: 16,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 4_000,
      connect: { lookup: checkedLookup(opts) },
    });
  }

  async send(url: string, headers: Record<string, string>, body: string): Promise<AttemptResult> {
    const { opts } = this;
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { ok: false, status: null, error: 'not a URL' };
    }
    // an IP literal is never looked up: check it here
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(literal)) {
      const refused = addressRefusal(literal, opts.policy, opts.denied);
      if (refused) return { ok: false, status: null, error: `refused: ${refused}` };
    }
    const abort = new AbortController();
    let timedOut = false;
    const deadline = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, opts.timeoutMs);
    try {
      const res = await this.agent.request({
        origin: target.origin,
        path: target.pathname + target.search,
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body).toString() },
        body,
        signal: abort.signal,
      });
      // enough to let the receiver finish; past the cap the connection is dropped
      await res.body.dump({ limit: opts.maxResponseBytes, signal: abort.signal }).catch(() => {});
      const ok = res.statusCode >= 200 && res.statusCode < 300;
      return { ok, status: res.statusCode, error: ok ? null : `HTTP ${res.statusCode}` };
    } catch (err) {
      return { ok: false, status: null, error: attemptError(err, timedOut, opts) };
    } finally {
      clearTimeout(deadline);
    }
  }

  close() {
    return this.agent.close();
  }
}
