// A browser without a window, for the gateway's tests: real HTTP (node:http, so that a
// Host such as acme.localhost can be used), a cookie jar per host name, redirects followed
// by hand, and the identity provider's sign-in form filled in and posted.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { type IncomingHttpHeaders, request } from 'node:http';

export interface HttpResponse {
  url: string;
  status: number;
  headers: IncomingHttpHeaders;
  setCookies: string[];
  body: string;
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** *.localhost resolves to loopback, as browsers do it (RFC 6761). */
function localhostLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback) {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
    else callback(null, '127.0.0.1', 4);
    return;
  }
  dnsLookup(hostname, options as never, callback as never);
}

/** One HTTP request; the body is read whole. */
export function httpRequest(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, lookup: localhostLookup as never },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            url,
            status: res.statusCode ?? 0,
            headers: res.headers,
            setCookies: res.headers['set-cookie'] ?? [],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface Credentials {
  email: string;
  password: string;
}

export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  private jar(url: string) {
    const host = new URL(url).hostname;
    let jar = this.jars.get(host);
    if (!jar) {
      jar = new Map();
      this.jars.set(host, jar);
    }
    return jar;
  }

  cookie(url: string, name: string): string | undefined {
    return this.jar(url).get(name);
  }

  setCookie(url: string, name: string, value: string) {
    this.jar(url).set(name, value);
  }

  deleteCookie(url: string, name: string) {
    this.jar(url).delete(name);
  }

  cookieHeader(url: string): string {
    return [...this.jar(url)].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** A request with this browser's cookies; the answer's cookies are kept. */
  async fetch(
    url: string,
    opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
  ): Promise<HttpResponse> {
    const cookie = this.cookieHeader(url);
    const res = await httpRequest(url, {
      ...opts,
      headers: { ...(cookie && { cookie }), ...opts.headers },
    });
    const jar = this.jar(url);
    for (const line of res.setCookies) {
      const [pair, ...attributes] = line.split(';').map((s) => s.trim());
      const eq = (pair as string).indexOf('=');
      const name = (pair as string).slice(0, eq);
      const value = (pair as string).slice(eq + 1);
      const gone = attributes.some(
        (a) =>
          /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) <= Date.now()),
      );
      if (gone || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }

  /**
   * Follows redirects from `url` like a browser (a redirect's target is fetched with GET),
   * signing in at the identity provider's form with `login` when it shows up. Stops at the
   * first answer that is not a redirect, or before fetching a URL `stopAt` accepts.
   */
  async follow(
    url: string,
    opts: { login?: Credentials; stopAt?: (url: string) => boolean } = {},
  ): Promise<{ url: string; res: HttpResponse | null }> {
    let next = url;
    let method = 'GET';
    let body: string | undefined;
    for (let hops = 0; hops < 25; hops++) {
      if (opts.stopAt?.(next)) return { url: next, res: null };
      const res = await this.fetch(next, {
        method,
        body,
        headers: body ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
      });
      const location = res.headers.location;
      if (res.status >= 300 && res.status < 400 && location) {
        next = new URL(location, next).href;
        method = 'GET';
        body = undefined;
        continue;
      }
      const action = res.body.match(/<form method="post" action="([^"]+)"/)?.[1];
      if (res.status === 200 && action && opts.login && action.startsWith('/interaction/')) {
        next = new URL(action, next).href;
        method = 'POST';
        body = new URLSearchParams({
          login: opts.login.email,
          password: opts.login.password,
        }).toString();
        opts = { ...opts, login: undefined }; // once: a wrong password shows the form again
        continue;
      }
      return { url: next, res };
    }
    throw new Error('too many redirects');
  }
}
