// Two replicas of the gateway behind one origin, sharing one control plane: a user's
// launches are counted on both, and a session cookie past half of its life is renewed once
// at an identity provider that rotates refresh tokens (a reused one revokes the grant),
// whichever replicas the browser's requests reach at the same moment.
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SessionClaims, signSession } from '../src/auth/session-token.ts';
import { loadKeys } from '../src/keys.ts';
import { Browser } from './helpers/browser.ts';
import { type Stack, startStack } from './helpers/stack.ts';
import { call, json, signIn } from './helpers/users.ts';

let stack: Stack;
let replica: Awaited<ReturnType<Stack['replica']>>;
beforeAll(async () => {
  stack = await startStack({ rotateRefreshTokens: true });
  replica = await stack.replica();
});
afterAll(() => stack?.close());

const now = () => Math.floor(Date.now() / 1000);
const sessionCookie = (lines: string[]) =>
  lines
    .find((l) => l.startsWith('floe_session='))
    ?.split(';')[0]
    ?.slice('floe_session='.length);

/** `cookie` re-signed as if issued 500 s ago: past half of its 900 s, so due for renewal. */
async function stale(cookie: string) {
  const { iat: _i, exp: _e, ...data } = decodeJwt(cookie) as unknown as SessionClaims;
  const keys = await loadKeys(JSON.stringify({ keys: [stack.keys.current] }));
  const { token } = await signSession(keys, stack.url, data, {
    now: now() - 500,
    ttlSeconds: 900,
    maxSeconds: 43_200,
  });
  return token;
}

/** The same cookie sent by `n` requests at once, alternating between the two replicas. */
function together(cookie: string, n: number) {
  return Promise.all(
    Array.from({ length: n }, (_, i) => {
      const b = new Browser();
      b.setCookie(stack.url, 'floe_session', cookie);
      return b.fetch(`${i % 2 ? replica.url : stack.url}/api/v1/me`);
    }),
  );
}

describe('gateway replicas', () => {
  it('count a user’s launches together (8 a minute across both)', async () => {
    const carol = await signIn(stack.url, 'carol');
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(carol, i % 2 ? replica.url : stack.url, 'POST', '/api/v1/tenants/globex/sessions', {
          app: 'desktop',
        }),
      ),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([...Array(8).fill(201), ...Array(4).fill(429)]);
    const refused = answers.find((a) => a.status === 429)!;
    expect(json(refused).error.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    // per user: bob launches through either replica
    const bob = await signIn(stack.url, 'bob');
    const other = await call(bob, replica.url, 'POST', '/api/v1/tenants/acme/sessions', {
      app: 'desktop',
    });
    expect(other.status).toBe(201);
  });

  it('renew a cookie once at a provider that rotates refresh tokens', async () => {
    const alice = await signIn(stack.url, 'alice');
    const old = await stale(alice.cookie(stack.url, 'floe_session')!);
    const grants = stack.op.refreshGrants();
    const answers = await together(old, 6);
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(200));
    // one refresh at the provider, and every request got the same new cookie
    expect(stack.op.refreshGrants() - grants).toBe(1);
    const renewed = new Set(answers.map((a) => sessionCookie(a.setCookies)));
    expect(renewed.size).toBe(1);
    const [cookie] = [...renewed];
    expect(cookie).toBeTruthy();
    // the new refresh token is good: the provider saw no reuse, so the grant stands
    const next = await together(await stale(cookie!), 2);
    expect(next.map((a) => a.status)).toEqual([200, 200]);
    expect(stack.op.refreshGrants() - grants).toBe(2);
  });
});
