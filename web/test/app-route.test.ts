import { describe, expect, it } from 'vitest';
import {
  canUseConsole,
  consoleHref,
  defaultSection,
  loginHref,
  parseRoute,
  readCookie,
  sectionsFor,
  streamHref,
} from '../src/app/route.ts';
import type { Me } from '../src/app/types.ts';

describe('parseRoute', () => {
  it('routes / to the launcher and /console/… to the console', () => {
    expect(parseRoute('/')).toEqual({ page: 'launcher' });
    expect(parseRoute('/index.html')).toEqual({ page: 'launcher' });
    expect(parseRoute('/console')).toEqual({
      page: 'console',
      section: null,
      item: null,
      tenant: null,
    });
    expect(parseRoute('/console/')).toEqual({
      page: 'console',
      section: null,
      item: null,
      tenant: null,
    });
    expect(parseRoute('/console/apps/new')).toEqual({
      page: 'console',
      section: 'apps',
      item: 'new',
      tenant: null,
    });
    expect(parseRoute('/console/users', '?tenant=globex')).toEqual({
      page: 'console',
      section: 'users',
      item: null,
      tenant: 'globex',
    });
    expect(
      parseRoute('/console/users', '?tenant=Bad%20One').page === 'console' &&
        parseRoute('/console/users', '?tenant=Bad%20One'),
    ).toMatchObject({ tenant: null });
  });

  it('leaves other paths alone', () => {
    expect(parseRoute('/console/nope').page).toBe('not-found');
    expect(parseRoute('/console/apps/a/b').page).toBe('not-found');
    expect(parseRoute('/sessions/abc/').page).toBe('not-found');
    expect(parseRoute('/logout').page).toBe('not-found');
  });
});

describe('links', () => {
  it('keeps the chosen tenant on console links', () => {
    expect(consoleHref('apps')).toBe('/console/apps');
    expect(consoleHref('apps', { item: 'my app', tenant: 'globex' })).toBe(
      '/console/apps/my%20app?tenant=globex',
    );
  });

  it('sends an expired sign-in to /login and back', () => {
    expect(loginHref('/console/users')).toBe('/login?returnTo=%2Fconsole%2Fusers');
  });

  it('opens the stream page with a way back', () => {
    expect(streamHref('0190-ab')).toBe('/sessions/0190-ab/?back=/');
  });
});

describe('sections by role', () => {
  const me = (role: Me['role'], tenant = true): Me => ({
    role,
    tenant: tenant ? { id: 't', slug: 'acme', name: 'Acme' } : null,
    user: null,
  });
  it('gives tenant admins the tenant sections and platform admins tenants and clusters too', () => {
    expect(sectionsFor('member')).toEqual([]);
    expect(canUseConsole('member')).toBe(false);
    expect(sectionsFor('tenant-admin').map((s) => s.id)).toEqual([
      'users',
      'apps',
      'quotas',
      'sessions',
      'usage',
      'billing',
      'api-keys',
      'identity',
      'transfer',
      'audit',
      'webhooks',
    ]);
    expect(sectionsFor('platform-admin').map((s) => s.id)).toContain('clusters');
    expect(sectionsFor('platform-admin').map((s) => s.id)).toContain('billing-all');
    expect(defaultSection(me('tenant-admin'), null)).toBe('users');
    expect(defaultSection(me('platform-admin', false), null)).toBe('tenants');
    expect(defaultSection(me('platform-admin', false), 'globex')).toBe('users');
  });
});

describe('readCookie', () => {
  it('finds a cookie among others', () => {
    expect(readCookie('a=1; floe_csrf=abc%3D; b=2', 'floe_csrf')).toBe('abc=');
    expect(readCookie('xfloe_csrf=no', 'floe_csrf')).toBeNull();
    expect(readCookie('', 'floe_csrf')).toBeNull();
    expect(readCookie('floe_csrf=%E0%A4', 'floe_csrf')).toBe('%E0%A4');
  });
});
