/** The console's frame: section navigation, a tenant picker for platform admins, the section. */
import { listAll } from '../api.ts';
import { empty, h } from '../dom.ts';
import type { Ctx, View } from '../main.ts';
import {
  canUseConsole,
  consoleHref,
  defaultSection,
  type Route,
  type SectionId,
  sectionsFor,
} from '../route.ts';
import type { Tenant } from '../types.ts';
import { apiKeysSection } from './api-keys.ts';
import { appsSection } from './apps.ts';
import { auditSection } from './audit.ts';
import { billingAllSection, billingSection } from './billing.ts';
import { clustersSection } from './clusters.ts';
import { identitySection } from './identity.ts';
import { quotasSection } from './quotas.ts';
import { sessionsSection } from './sessions.ts';
import { tenantsSection } from './tenants.ts';
import { transferSection } from './transfer.ts';
import { usageSection } from './usage.ts';
import { usersSection } from './users.ts';
import { webhooksSection } from './webhooks.ts';

export interface TenantRef {
  slug: string;
  name: string;
}

export interface SectionCtx extends Ctx {
  /** The tenant the section works on; null for platform sections (or none chosen yet). */
  tenant: TenantRef | null;
  /** The item of `/console/<section>/<item>` (an app being edited, `new`…). */
  item: string | null;
  /** A console path that keeps the chosen tenant. */
  href(section: SectionId, item?: string | null): string;
}

export type SectionRender = (el: HTMLElement, ctx: SectionCtx) => View | undefined;

const RENDER: Record<SectionId, SectionRender> = {
  users: usersSection,
  apps: appsSection,
  quotas: quotasSection,
  sessions: sessionsSection,
  usage: usageSection,
  billing: billingSection,
  'billing-all': billingAllSection,
  'api-keys': apiKeysSection,
  identity: identitySection,
  transfer: transferSection,
  audit: auditSection,
  webhooks: webhooksSection,
  tenants: tenantsSection,
  clusters: clustersSection,
};

type ConsoleRoute = Extract<Route, { page: 'console' }>;

export function renderConsole(main: HTMLElement, ctx: Ctx, route: ConsoleRoute): View {
  const { me } = ctx;
  if (!canUseConsole(me.role)) {
    document.title = 'Console — Floe';
    main.append(
      h('h1', {}, 'Console'),
      empty('The console is for admins. Ask one of your organization’s admins for access.'),
      h('p', {}, h('a', { href: '/' }, 'Back to your apps')),
    );
    return { dispose() {} };
  }
  const platform = me.role === 'platform-admin';
  const tenantSlug = platform
    ? (route.tenant ?? me.tenant?.slug ?? null)
    : (me.tenant?.slug ?? null);
  const keep = platform && route.tenant ? route.tenant : null;
  const href = (section: SectionId, item: string | null = null) =>
    consoleHref(section, { item, tenant: keep });
  const sectionId = route.section ?? defaultSection(me, tenantSlug);
  const sections = sectionsFor(me.role);
  const section = sections.find((s) => s.id === sectionId);
  const linkList = (list: typeof sections, labelledBy?: string) =>
    h(
      'ul',
      { 'aria-labelledby': labelledBy },
      list.map((s) =>
        h(
          'li',
          {},
          h('a', { href: href(s.id), 'aria-current': s.id === sectionId ? 'page' : null }, s.label),
        ),
      ),
    );
  const tenantSections = sections.filter((s) => s.tenant);
  const platformSections = sections.filter((s) => !s.tenant);
  const links = [
    linkList(tenantSections),
    platformSections.length > 0
      ? h('p', { class: 'nav-heading', id: 'nav-platform' }, 'Platform')
      : null,
    platformSections.length > 0 ? linkList(platformSections, 'nav-platform') : null,
  ];
  const nav = h('nav', { class: 'console-nav', 'aria-label': 'Console sections' });
  const body = h('div', { class: 'console-body' });
  main.append(h('div', { class: 'console' }, nav, body));

  let view: View | undefined;
  let disposed = false;
  const show = (tenant: TenantRef | null) => {
    if (disposed) return;
    if (!section) {
      document.title = 'Console — Floe';
      body.replaceChildren(h('h1', {}, 'Console'), empty('This section is not for your role.'));
      return;
    }
    document.title = `${section.label} — Console — Floe`;
    const heading = h(
      'h1',
      { id: 'section-heading' },
      section.label,
      tenant && section.tenant && platform
        ? h('span', { class: 'subtitle' }, ` · ${tenant.name}`)
        : null,
    );
    const content = h('section', { 'aria-labelledby': 'section-heading' }, heading);
    body.replaceChildren(content);
    if (section.tenant && !tenant) {
      content.append(
        empty(
          platform
            ? 'Choose a tenant to manage above, or create one under Tenants.'
            : 'You do not belong to a tenant.',
        ),
      );
      return;
    }
    view = RENDER[section.id](content, {
      ...ctx,
      tenant: section.tenant ? tenant : null,
      item: route.item,
      href,
    });
  };

  if (!platform) {
    nav.append(...links.filter((l) => l !== null));
    show(me.tenant);
  } else {
    // A platform admin works on any tenant: pick it here; the choice rides in ?tenant=.
    const picker = h(
      'select',
      { id: 'tenant-picker', name: 'tenant', 'aria-describedby': 'tenant-picker-hint' },
      h('option', { value: '' }, 'Loading tenants…'),
    );
    nav.append(
      h(
        'div',
        { class: 'field tenant-pick' },
        h('label', { for: 'tenant-picker' }, 'Tenant'),
        picker,
        h(
          'small',
          { id: 'tenant-picker-hint', class: 'hint' },
          'The tenant the sections below work on.',
        ),
      ),
      ...links.filter((l) => l !== null),
    );
    listAll<Tenant>('/tenants')
      .then((tenants) => {
        picker.replaceChildren(
          h('option', { value: '' }, '— choose —'),
          ...tenants
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((t) =>
              h(
                'option',
                { value: t.slug, selected: t.slug === tenantSlug },
                `${t.name} (${t.slug})`,
              ),
            ),
        );
        picker.addEventListener('change', () => {
          const s = section?.tenant ? sectionId : 'users';
          ctx.navigate(consoleHref(s, { tenant: picker.value || null }));
        });
        const chosen = tenants.find((t) => t.slug === tenantSlug);
        show(chosen ? { slug: chosen.slug, name: chosen.name } : null);
      })
      .catch(() => {
        picker.replaceChildren(h('option', { value: '' }, 'Tenants unavailable'));
        show(tenantSlug ? { slug: tenantSlug, name: tenantSlug } : null);
      });
  }
  return {
    dispose() {
      disposed = true;
      view?.dispose();
    },
  };
}
