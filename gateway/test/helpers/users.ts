// Signing the testbed's users in through a gateway, and calling it as a page of its own
// would (same Origin, the CSRF token echoed).
import { request } from 'node:http';
import type { Duplex } from 'node:stream';
import { TEST_USERS } from '@floe/testbed';
import { Browser, type HttpResponse } from './browser.ts';

export type UserName = 'alice' | 'bob' | 'carol';

export function credentials(who: UserName) {
  const user = TEST_USERS.find((u) => u.sub === who)!;
  return { email: user.email, password: user.password, tenant: user.tenant };
}

/** A browser signed in as `who` at `base` (the hint names their tenant unless `base` does). */
export async function signIn(base: string, who: UserName, opts: { hint?: boolean } = {}) {
  const browser = new Browser();
  const { tenant, ...login } = credentials(who);
  const start = opts.hint === false ? `${base}/login` : `${base}/login?tenant=${tenant}`;
  const done = await browser.follow(start, { login });
  if (done.res?.status !== 200 || !browser.cookie(base, 'floe_csrf')) {
    throw new Error(`sign-in of ${who} ended at ${done.url} with ${done.res?.status}`);
  }
  return browser;
}

/** A request as the gateway's own pages make it: same Origin, x-csrf-token from the cookie. */
export function call(
  browser: Browser,
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResponse> {
  return browser.fetch(base + path, {
    method,
    headers: {
      origin: new URL(base).origin,
      'x-csrf-token': browser.cookie(base, 'floe_csrf') ?? '',
      ...(body !== undefined && { 'content-type': 'application/json' }),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

export const json = (res: HttpResponse) => JSON.parse(res.body);

/** A WebSocket handshake; the status the server answered with (101 when upgraded). */
export function upgrade(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; socket?: Duplex }> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => resolve({ status: res.statusCode ?? 0, socket }));
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}

/** A WebSocket client with the browser's cookie and an Origin; messages arrive in order. */
export async function openWebSocket(url: string, headers: Record<string, string>) {
  const ws = new WebSocket(url, { headers } as never);
  const messages: string[] = [];
  const waiters: ((m: string) => void)[] = [];
  ws.addEventListener('message', (e) => {
    const waiter = waiters.shift();
    if (waiter) waiter(String(e.data));
    else messages.push(String(e.data));
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error('WebSocket failed')), { once: true });
  });
  return {
    ws,
    next: () =>
      new Promise<string>((resolve) => {
        const m = messages.shift();
        if (m !== undefined) resolve(m);
        else waiters.push(resolve);
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.addEventListener('close', () => resolve(), { once: true });
        ws.close();
      }),
  };
}
