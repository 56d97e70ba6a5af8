// The gateway's pure decisions: where to return after sign-in, roles, CSRF, launch rate,
// session access, host names, cookie lifetimes.
import { describe, expect, it } from 'vitest';
import { safeReturnTo } from '../../src/auth/return-to.ts';
import { claimValue, roleFromClaims } from '../../src/auth/roles.ts';
import { renewalDue, sessionExpiry } from '../../src/auth/session-token.ts';
import type { GatewaySession } from '../../src/control-client.ts';
import { hostnameOf, requestOrigin, tenantHostname } from '../../src/host.ts';
import { checkCsrf, fromOrigin } from '../../src/http/csrf.ts';
import {
  endedMessage,
  lifetimeLeft,
  ownSession,
  sessionAccess,
  streamAccess,
} from '../../src/sessions/access.ts';

describe('safeReturnTo', () => {
  it.each([
    ['/', '/'],
    ['/sessions/abc/?stats=1', '/sessions/abc/?stats=1'],
    ['/a/b#frag', '/a/b#frag'],
    ['/a/../b', '/b'],
    ['/%2F%2Fevil.test', '/%2F%2Fevil.test'], // stays a path on this origin
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  it.each([
    null,
    undefined,
    '',
    'https://evil.test/',
    'http://evil.test',
    '//evil.test/x',
    '///evil.test',
    '/\\evil.test',
    '\\\\evil.test',
    '/.//evil.test',
    '/..//evil.test',
    '/a/..//evil.test',
    'javascript:alert(1)',
    'data:text/html,hi',
    'evil.test/x',
    ' /x',
    '/\tx',
    '/x\ny',
    `/${'a'.repeat(3000)}`,
  ])('refuses %j (back to /)', (input) => {
    expect(safeReturnTo(input)).toBe('/');
  });
});

describe('roleFromClaims', () => {
  const admin = ['tenant-admin', 'floe-admins'];
  it('makes a tenant-admin of a user with one of the admin roles', () => {
    expect(roleFromClaims({ floe_roles: ['member', 'floe-admins'] }, 'floe_roles', admin)).toBe(
      'tenant-admin',
    );
    expect(roleFromClaims({ groups: 'staff tenant-admin' }, 'groups', admin)).toBe('tenant-admin');
    expect(
      roleFromClaims({ realm_access: { roles: ['tenant-admin'] } }, 'realm_access.roles', admin),
    ).toBe('tenant-admin');
  });

  it('makes a member of everyone else', () => {
    expect(roleFromClaims({ floe_roles: ['member'] }, 'floe_roles', admin)).toBe('member');
    expect(roleFromClaims({}, 'floe_roles', admin)).toBe('member');
    expect(roleFromClaims({ floe_roles: [42, { x: 1 }] }, 'floe_roles', admin)).toBe('member');
    expect(roleFromClaims({ floe_roles: ['tenant-admin'] }, 'floe_roles', [])).toBe('member');
    // a near miss is not a match
    expect(roleFromClaims({ floe_roles: 'tenant-administrator' }, 'floe_roles', admin)).toBe(
      'member',
    );
  });

  it('reads a claim whose name has dots as itself first', () => {
    expect(claimValue({ 'a.b': 1, a: { b: 2 } }, 'a.b')).toBe(1);
    expect(claimValue({ a: { b: 2 } }, 'a.b')).toBe(2);
    expect(claimValue({ a: [1] }, 'a.0')).toBeUndefined();
  });
});

describe('checkCsrf', () => {
  const base = {
    method: 'POST',
    origin: 'https://floe.example',
    expectedOrigin: 'https://floe.example',
    headerToken: 'token-token-token-token',
    cookieToken: 'token-token-token-token',
    sessionToken: 'token-token-token-token',
  };

  it('lets safe methods through without checks', () => {
    for (const method of ['GET', 'HEAD', 'OPTIONS']) {
      expect(
        checkCsrf({ ...base, method, origin: 'https://evil.test', headerToken: undefined }).ok,
      ).toBe(true);
    }
  });

  it('needs the site’s own Origin (or Referer without one) and the token three times over', () => {
    expect(checkCsrf(base).ok).toBe(true);
    expect(checkCsrf({ ...base, method: 'delete' }).ok).toBe(true);
    expect(checkCsrf({ ...base, origin: undefined, referer: 'https://floe.example/page' }).ok).toBe(
      true,
    );
    const refused = [
      { origin: 'https://evil.test' },
      { origin: 'https://floe.example.evil.test' },
      { origin: 'http://floe.example' },
      { origin: 'null' },
      { origin: undefined },
      { origin: undefined, referer: 'https://evil.test/x' },
      // an Origin that is wrong is not saved by a Referer that is right
      { origin: 'https://evil.test', referer: 'https://floe.example/' },
      { headerToken: undefined },
      { cookieToken: undefined },
      { headerToken: 'other-token-other-token' },
      // a cookie planted by a sibling subdomain, echoed in the header: not this session's
      { headerToken: 'planted-planted-planted', cookieToken: 'planted-planted-planted' },
    ];
    for (const change of refused) {
      expect(checkCsrf({ ...base, ...change }).ok, JSON.stringify(change)).toBe(false);
    }
  });

  it('compares origins, not strings', () => {
    expect(fromOrigin({ origin: 'https://floe.example:443' }, 'https://floe.example')).toBe(true);
    expect(fromOrigin({ referer: 'not a url' }, 'https://floe.example')).toBe(false);
  });
});

describe('sessionAccess', () => {
  const session: GatewaySession = {
    id: 's',
    tenantId: 't1',
    userId: 'u1',
    state: 'running',
    endpoint: 'http://10.0.0.1:8080/',
    reason: null,
    lifetime: null,
    grants: [],
  };
  const owner = { tenantId: 't1', userId: 'u1' };

  it('allows the owner of a running session with an endpoint', () => {
    expect(sessionAccess(session, owner)).toEqual({ allow: true, endpoint: session.endpoint });
  });

  it('refuses everything else alike', () => {
    for (const [s, u] of [
      [null, owner],
      [session, { tenantId: 't1', userId: 'u2' }],
      [session, { tenantId: 't2', userId: 'u1' }],
      [session, { tenantId: 't1', userId: undefined }],
      [{ ...session, state: 'starting' }, owner],
      [{ ...session, state: 'stopped' }, owner],
      [{ ...session, endpoint: null }, owner],
    ] as const) {
      expect(sessionAccess(s, u)).toEqual({ allow: false });
    }
  });

  it('shows its owner an ended session, and nobody else any', () => {
    const ended: GatewaySession = { ...session, state: 'stopped', endpoint: null };
    expect(ownSession(ended, owner)).toBe(ended);
    expect(ownSession(ended, { tenantId: 't1', userId: 'u2' })).toBeNull();
    expect(ownSession(ended, { tenantId: 't2', userId: 'u1' })).toBeNull();
    expect(ownSession(null, owner)).toBeNull();
  });
});

describe('lifetimeLeft', () => {
  const at = Date.parse('2026-01-01T00:10:00Z');
  it.each([
    ['none', null, null],
    [
      'ends in 90 s',
      { seconds: 600, endsAt: '2026-01-01T00:11:30Z' },
      { seconds: 600, leftSeconds: 90 },
    ],
    [
      'rounds to the second',
      { seconds: 600, endsAt: '2026-01-01T00:10:00.600Z' },
      { seconds: 600, leftSeconds: 1 },
    ],
    [
      'past: 0, never negative',
      { seconds: 600, endsAt: '2026-01-01T00:09:00Z' },
      { seconds: 600, leftSeconds: 0 },
    ],
    ['an unreadable time', { seconds: 600, endsAt: 'soon' }, null],
  ] as const)('%s', (_name, lifetime, expected) => {
    expect(lifetimeLeft({ lifetime }, at)).toEqual(expected);
  });
});

describe('streamAccess', () => {
  const NOW = Date.parse('2026-01-01T12:00:00Z');
  const later = '2026-01-01T13:00:00.000Z';
  const earlier = '2026-01-01T11:00:00.000Z';
  const grant = (g: Partial<GatewaySession['grants'][number]>) => ({
    id: 'g1',
    kind: 'user' as const,
    userId: 'u2',
    role: 'viewer' as const,
    expiresAt: null,
    ...g,
  });
  const base: GatewaySession = {
    id: 's',
    tenantId: 't1',
    userId: 'u1',
    state: 'running',
    endpoint: 'http://10.0.0.1:8080/',
    reason: null,
    lifetime: null,
    grants: [
      grant({}),
      grant({ id: 'g2', userId: 'u3', role: 'control', expiresAt: later }),
      grant({ id: 'g3', userId: 'u4', expiresAt: earlier }),
      grant({ id: 'l1', kind: 'link', userId: null, role: 'viewer', expiresAt: later }),
      grant({ id: 'l2', kind: 'link', userId: null, role: 'control', expiresAt: earlier }),
      grant({ id: 'g4', userId: 'u5', role: 'viewer' }),
      grant({ id: 'l3', kind: 'link', userId: null, role: 'control', expiresAt: later }),
    ],
  };
  const user = (userId: string | undefined, tenantId = 't1') => ({ tenantId, userId });

  it('decides who may watch and in what role', () => {
    const cases: [
      string,
      GatewaySession | null,
      ReturnType<typeof user>,
      string | null,
      unknown,
    ][] = [
      ['the owner', base, user('u1'), null, { role: 'owner', grantId: null }],
      ['a user grant, view-only', base, user('u2'), null, { role: 'viewer', grantId: 'g1' }],
      ['a user grant, control', base, user('u3'), null, { role: 'control', grantId: 'g2' }],
      ['an expired user grant', base, user('u4'), null, null],
      ['no grant', base, user('u9'), null, null],
      ['a live link', base, user('u9'), 'l1', { role: 'viewer', grantId: 'l1' }],
      ['an expired link', base, user('u9'), 'l2', null],
      ['a link naming a user grant', base, user('u9'), 'g1', null],
      ['an unknown link', base, user('u9'), 'nope', null],
      ['the stronger of a grant and a link', base, user('u5'), 'l3', { role: 'control' }],
      ['another tenant, granted by id', base, user('u2', 't2'), null, null],
      ['another tenant, with a live link', base, user('u9', 't2'), 'l1', null],
      ['another tenant, the owner id', base, user('u1', 't2'), null, null],
      ['no user id', base, user(undefined), 'l1', null],
      ['not running', { ...base, state: 'starting' }, user('u2'), null, null],
      ['no endpoint', { ...base, endpoint: null }, user('u1'), null, null],
      ['no session', null, user('u2'), 'l1', null],
    ];
    for (const [what, session, who, link, want] of cases) {
      const got = streamAccess(session, who, link, NOW);
      const expected = want
        ? { allow: true, endpoint: base.endpoint, ...(want as object) }
        : { allow: false };
      expect({ what, got }).toEqual({
        what,
        got: want ? expect.objectContaining(expected) : expected,
      });
    }
  });
});

describe('endedMessage', () => {
  it('says who or what ended a session', () => {
    for (const [state, reason, message] of [
      ['stopped', 'stopped by its user', 'You shut it down.'],
      ['stopped', 'stopped by an admin', 'An admin shut it down.'],
      ['stopped', 'maximum lifetime reached', 'It reached its maximum lifetime.'],
      ['stopped', 'idle: no input for 60s', 'It was idle for too long: no input for 60s.'],
      ['stopped', 'IdleTimeout: no input for 60s', 'It was idle for too long: no input for 60s.'],
      ['stopped', 'the platform shut down', 'The platform shut down.'],
      ['stopped', 'the app exited', 'It stopped: the app exited.'],
      ['stopped', null, 'It stopped.'],
      ['failed', 'the local runner is full', 'It failed: the local runner is full.'],
      ['failed', null, 'It failed: no reason was given.'],
    ] as const) {
      expect(endedMessage(state, reason)).toBe(message);
    }
  });
});

describe('host names', () => {
  const gateway = 'https://floe.example';

  it('reads Host headers', () => {
    expect(hostnameOf('Acme.Floe.Example:8443')).toBe('acme.floe.example');
    expect(hostnameOf('[::1]:80')).toBe('[::1]');
    for (const bad of [undefined, '', 'a b', 'evil.test/path', 'user@evil.test', 'x?y']) {
      expect(hostnameOf(bad)).toBeNull();
    }
  });

  it('looks tenants up by names other than the gateway’s own, IPs and single labels', () => {
    expect(tenantHostname('acme.floe.example', gateway)).toBe('acme.floe.example');
    expect(tenantHostname('login.acme.test:443', gateway)).toBe('login.acme.test');
    for (const host of [
      'floe.example',
      'floe.example:443',
      '10.1.2.3:8081',
      '[::1]',
      'localhost',
    ]) {
      expect(tenantHostname(host, gateway)).toBeNull();
    }
  });

  it('gives the origin a browser addressed', () => {
    expect(requestOrigin('acme.floe.example', gateway)).toBe('https://acme.floe.example');
    expect(requestOrigin('127.0.0.1:8081', 'http://127.0.0.1:8081')).toBe('http://127.0.0.1:8081');
    expect(requestOrigin(undefined, gateway)).toBe(gateway);
  });
});

describe('session cookie lifetime', () => {
  const ttl = 900;
  const max = 43_200;

  it('expires a TTL from now, but never past the absolute limit from sign-in', () => {
    expect(sessionExpiry(1_000, 1_000, ttl, max)).toBe(1_900);
    expect(sessionExpiry(1_000, 1_000 + max - 100, ttl, max)).toBe(1_000 + max);
  });

  it('is renewed past half of its life, until the absolute limit', () => {
    const claims = { signed_in_at: 1_000, iat: 1_000, exp: 1_900 };
    expect(renewalDue(claims, 1_449, ttl, max)).toBe(false);
    expect(renewalDue(claims, 1_450, ttl, max)).toBe(true);
    const last = { signed_in_at: 1_000, iat: 1_000 + max - 600, exp: 1_000 + max };
    expect(renewalDue(last, 1_000 + max - 10, ttl, max)).toBe(false);
  });
});
