// A small Kubernetes REST client: JSON in, JSON out, over one keep-alive HTTPS agent, with
// every request counted. @kubernetes/client-node provides the configuration and credentials
// (kubeconfig, in-cluster, exec plugins); requests are raw so that lists, watch events and
// gets all carry the same plain JSON (the generated clients turn timestamps into Dates in
// lists but not in watch events), and so that watches can ask for bookmarks.

import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

/** An error answer of the API server, with its Status reason and message. */
export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  /** the server's own message, without the request and status */
  readonly serverMessage: string;
  constructor(status: number, reason: string, message: string, what: string) {
    super(`${what}: ${status} ${reason}: ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.serverMessage = message;
  }
}

export const isNotFound = (err: unknown) => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown) => err instanceof KubeApiError && err.status === 409;
export const isGone = (err: unknown) => err instanceof KubeApiError && err.status === 410;

export interface ResourceRef {
  group: string; // '' for the core group
  version: string;
  plural: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

export function resourcePath(r: ResourceRef): string {
  const base = r.group === '' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
  const ns = r.namespace ? `/namespaces/${encodeURIComponent(r.namespace)}` : '';
  const name = r.name ? `/${encodeURIComponent(r.name)}` : '';
  const sub = r.subresource ? `/${r.subresource}` : '';
  return `${base}${ns}/${r.plural}${name}${sub}`;
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'apply' | 'delete';

export interface RequestOpts {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface Kube {
  request<T>(verb: Verb, ref: ResourceRef, opts?: RequestOpts): Promise<T>;
  /** Streams watch events until the server ends the watch (resolves) or it fails (rejects). */
  watch<T>(
    ref: ResourceRef,
    query: RequestOpts['query'],
    onEvent: (ev: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void>;
  close(): void;
}

export interface KubeOptions {
  /** called for every request made, for the requests metric */
  onRequest?: (verb: Verb, resource: string) => void;
  /** consulted before every write: a replica that is not the leader must not write */
  mayWrite?: () => boolean;
  /** bound of a non-watch request, default 30 s */
  timeoutMs?: number;
}

const methods: Record<Verb, string> = {
  get: 'GET',
  list: 'GET',
  watch: 'GET',
  create: 'POST',
  update: 'PUT',
  patch: 'PATCH',
  apply: 'PATCH',
  delete: 'DELETE',
};

export class NotLeaderError extends Error {
  constructor(what: string) {
    super(`not the leader: refusing ${what}`);
    this.name = 'NotLeaderError';
  }
}

export function connectKube(kc: KubeConfig, opts: KubeOptions = {}): Kube {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  const server = new URL(cluster.server);
  const tls = server.protocol === 'https:';
  // one pool of kept-alive connections: a TLS handshake per request would dominate latency
  let agent: Agent | HttpAgent | undefined;
  const timeoutMs = opts.timeoutMs ?? 30_000;

  /** Credentials are re-read per request: exec plugins and token files rotate them. */
  const requestOptions = async (): Promise<RequestOptions> => {
    const o: RequestOptions = {};
    await kc.applyToHTTPSOptions(o);
    if (!agent) {
      agent = tls
        ? new Agent({
            keepAlive: true,
            maxSockets: 64,
            ca: o.ca,
            cert: o.cert,
            key: o.key,
            rejectUnauthorized: o.rejectUnauthorized,
            servername: o.servername,
          })
        : new HttpAgent({ keepAlive: true, maxSockets: 64 });
    }
    return { headers: o.headers, auth: o.auth, agent };
  };

  const url = (ref: ResourceRef, query: RequestOpts['query']) => {
    const u = new URL(resourcePath(ref), server);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  };

  const send = async (
    verb: Verb,
    ref: ResourceRef,
    ro: RequestOpts,
    signal?: AbortSignal,
  ): Promise<import('node:http').IncomingMessage> => {
    const what = `${verb} ${resourcePath(ref)}`;
    if (
      verb !== 'get' &&
      verb !== 'list' &&
      verb !== 'watch' &&
      opts.mayWrite &&
      !opts.mayWrite()
    ) {
      throw new NotLeaderError(what);
    }
    opts.onRequest?.(verb, ref.subresource ? `${ref.plural}/${ref.subresource}` : ref.plural);
    const base = await requestOptions();
    const body = ro.body === undefined ? undefined : JSON.stringify(ro.body);
    const headers: Record<string, string> = {
      ...(base.headers as Record<string, string>),
      accept: 'application/json',
    };
    if (body !== undefined) {
      headers['content-type'] = ro.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const req = (tls ? httpsRequest : httpRequest)(url(ref, ro.query), {
      ...base,
      method: methods[verb],
      headers,
      signal,
      timeout: verb === 'watch' ? undefined : timeoutMs,
    });
    return await new Promise((resolve, reject) => {
      req.on('response', resolve);
      req.on('error', (err) => reject(new Error(`${what}: ${err.message}`, { cause: err })));
      req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      req.end(body);
    });
  };

  const readBody = async (res: import('node:http').IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  };

  const failure = (status: number, text: string, what: string) => {
    let reason = 'Unknown';
    let message = text.slice(0, 500);
    try {
      const s = JSON.parse(text) as { reason?: string; message?: string };
      reason = s.reason ?? reason;
      message = s.message ?? message;
    } catch {}
    return new KubeApiError(status, reason, message, what);
  };

  return {
    async request<T>(verb: Verb, ref: ResourceRef, ro: RequestOpts = {}): Promise<T> {
      const res = await send(verb, ref, ro);
      const text = await readBody(res);
      const status = res.statusCode ?? 0;
      if (status >= 400) throw failure(status, text, `${verb} ${resourcePath(ref)}`);
      return (text ? JSON.parse(text) : undefined) as T;
    },

    async watch<T>(
      ref: ResourceRef,
      query: RequestOpts['query'],
      onEvent: (ev: WatchEvent<T>) => void,
      signal: AbortSignal,
    ): Promise<void> {
      const res = await send('watch', ref, { query: { ...query, watch: 'true' } }, signal);
      const status = res.statusCode ?? 0;
      if (status >= 400) throw failure(status, await readBody(res), `watch ${resourcePath(ref)}`);
      const lines = createInterface({ input: res, crlfDelay: Number.POSITIVE_INFINITY });
      try {
        for await (const line of lines) {
          if (line.trim() === '') continue;
          onEvent(JSON.parse(line) as WatchEvent<T>);
        }
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      } finally {
        res.destroy(); // a handler that threw leaves the stream open otherwise
      }
    },

    close() {
      agent?.destroy();
    },
  };
}

/** Server-side apply of a whole object (conflicts forced), by default as floe-operator. */
export function apply<T>(
  kube: Kube,
  ref: ResourceRef,
  obj: unknown,
  fieldManager = 'floe-operator',
): Promise<T> {
  return kube.request<T>('apply', ref, {
    body: obj,
    contentType: 'application/apply-patch+yaml', // JSON is YAML
    query: { fieldManager, force: true },
  });
}

/** Deletes, treating "already gone" as done. */
export async function deleteIfExists(kube: Kube, ref: ResourceRef, body?: unknown) {
  try {
    await kube.request('delete', ref, body === undefined ? {} : { body });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
