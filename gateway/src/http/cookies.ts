// Setting cookies so that they reach the browser on every kind of answer: through Hono's
// response headers, and kept in the context for answers written outside Hono (the session
// proxy writes the Node response itself).
import type { Context } from 'hono';
import { generateCookie } from 'hono/cookie';
import type { CookieOptions } from 'hono/utils/cookie';
import type { GatewayEnv } from './env.ts';

export function sendCookie(
  c: Context<GatewayEnv>,
  name: string,
  value: string,
  opt: CookieOptions,
) {
  const line = generateCookie(name, value, { path: '/', ...opt });
  c.header('set-cookie', line, { append: true });
  c.set('setCookies', [...(c.get('setCookies') ?? []), line]);
}

export function clearCookie(c: Context<GatewayEnv>, name: string, opt: CookieOptions) {
  sendCookie(c, name, '', { ...opt, maxAge: 0 });
}
