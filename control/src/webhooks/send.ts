// One HTTP attempt at a webhook delivery. The name is resolved here, every address it
// resolves to is checked (target.ts), and the connection goes to the address that was
// checked (the lookup hook of node:http): no second resolution an attacker's DNS could
// answer differently (DNS rebinding). Redirects are not followed; a response's body is read
// up to a cap and then dropped; the whole attempt has a deadline.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { type BlockList, isIP, type LookupFunction } from 'node:net';
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
export class TargetRefused extends Error {}

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

export function sendWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  opts: SendOptions,
): Promise<AttemptResult> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return Promise.resolve({ ok: false, status: null, error: 'not a URL' });
  }
  // an IP literal is never looked up: check it here
  const literal = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(literal)) {
    const refused = addressRefusal(literal, opts.policy, opts.denied);
    if (refused) return Promise.resolve({ ok: false, status: null, error: `refused: ${refused}` });
  }
  const client = target.protocol === 'https:' ? https : http;
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const done = (r: AttemptResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(r);
    };
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': Buffer.byteLength(body).toString() },
        lookup: checkedLookup(opts),
        agent: false, // a fresh connection per attempt: no pooled socket to an unchecked address
      },
      (res) => {
        const status = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > opts.maxResponseBytes) res.destroy(); // enough: the status decides
        });
        const finish = () =>
          done({
            ok: status >= 200 && status < 300,
            status,
            error: status >= 200 && status < 300 ? null : `HTTP ${status}`,
          });
        res.on('end', finish);
        res.on('close', finish);
        res.on('error', finish);
      },
    );
    const deadline = setTimeout(() => {
      req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    req.on('error', (err) =>
      done({
        ok: false,
        status: null,
        error: err instanceof TargetRefused ? `refused: ${err.message}` : err.message,
      }),
    );
    req.end(body);
  });
}
