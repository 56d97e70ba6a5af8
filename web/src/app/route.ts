/** Paths of the single-page app: `/` the launcher, `/console/<section>[/<item>]` the console. */
import type { Me, Role } from './types.ts';

export type SectionId =
  | 'users'
  | 'apps'
  | 'quotas'
  | 'sessions'
  | 'usage'
  | 'billing'
  | 'api-keys'
  | 'identity'
  | 'transfer'
  | 'audit'
  | 'webhooks'
  | 'tenants'
  | 'clusters'
  | 'billing-all';

export interface Section {
  id: SectionId;
  label: string;
  /** Works on one tenant (a platform admin picks which). */
  tenant: boolean;
  roles: readonly Role[];
}

const ADMINS = ['tenant-admin', 'platform-admin'] as const;

export const SECTIONS: readonly Section[] = [
  { id: 'users', label: 'Users', tenant: true, roles: ADMINS },
  { id: 'apps', label: 'Apps', tenant: true, roles: ADMINS },
  { id: 'quotas', label: 'Quotas & use', tenant: true, roles: ADMINS },
  { id: 'sessions', label: 'Live sessions', tenant: true, roles: ADMINS },
  { id: 'usage', label: 'Usage', tenant: true, roles: ADMINS },
  { id: 'billing', label: 'Billing', tenant: true, roles: ADMINS },
  { id: 'api-keys', label: 'API keys', tenant: true, roles: ADMINS },
  { id: 'identity', label: 'Identity provider', tenant: true, roles: ADMINS },
  { id: 'transfer', label: 'Files & clipboard', tenant: true, roles: ADMINS },
  { id: 'audit', label: 'Audit log', tenant: true, roles: ADMINS },
  { id: 'webhooks', label: 'Webhooks', tenant: true, roles: ADMINS },
  { id: 'tenants', label: 'Tenants', tenant: false, roles: ['platform-admin'] },
  { id: 'clusters', label: 'Clusters', tenant: false, roles: ['platform-admin'] },
  { id: 'billing-all', label: 'Billing (all tenants)', tenant: false, roles: ['platform-admin'] },
];

export type Route =
  | { page: 'launcher' }
  | { page: 'console'; section: SectionId | null; item: string | null; tenant: string | null }
  | { page: 'not-found'; path: string };

const SLUG = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function parseRoute(pathname: string, search = ''): Route {
  const path = pathname.replace(/\/{2,}/g, '/').replace(/(.)\/$/, '$1');
  if (path === '/' || path === '/index.html') return { page: 'launcher' };
  const parts = path.split('/').slice(1).map(decodeURIComponent);
  if (parts[0] !== 'console' || parts.length > 3) return { page: 'not-found', path: pathname };
  const section = parts[1] ?? null;
  if (section !== null && !SECTIONS.some((s) => s.id === section)) {
    return { page: 'not-found', path: pathname };
  }
  const tenant = new URLSearchParams(search).get('tenant');
  return {
    page: 'console',
    section: section as SectionId | null,
    item: parts[2] ?? null,
    tenant: tenant && SLUG.test(tenant) ? tenant : null,
  };
}

/** The console path of a section (and item), keeping the chosen tenant of a platform admin. */
export function consoleHref(
  section: SectionId,
  options: { item?: string | null; tenant?: string | null } = {},
): string {
  const item = options.item ? `/${encodeURIComponent(options.item)}` : '';
  const tenant = options.tenant ? `?tenant=${encodeURIComponent(options.tenant)}` : '';
  return `/console/${section}${item}${tenant}`;
}

export const sectionsFor = (role: Role): Section[] =>
  SECTIONS.filter((s) => s.roles.includes(role));

export const canUseConsole = (role: Role): boolean => role !== 'member';

/** Where /console lands: a platform admin without a tenant starts at Tenants. */
export function defaultSection(me: Me, tenant: string | null): SectionId {
  return me.role === 'platform-admin' && !tenant && !me.tenant ? 'tenants' : 'users';
}

/** The sign-in page for an expired session, coming back to `path` (path and query) afterwards. */
export const loginHref = (path: string): string => `/login?returnTo=${encodeURIComponent(path)}`;

/** The stream page of a running session, with a back link to the launcher. */
export const streamHref = (sessionId: string): string =>
  `/sessions/${encodeURIComponent(sessionId)}/?back=/`;

/** A cookie's value from `document.cookie`, or null. */
export function readCookie(cookies: string, name: string): string | null {
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return value;
      }
    }
  }
  return null;
}
