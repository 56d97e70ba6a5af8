/**
 * The launcher and admin console: one small single-page app. `/` is the launcher,
 * `/console/<section>` the console; links inside the app change the page without a reload.
 */
import { api } from './api.ts';
import { renderConsole } from './console/shell.ts';
import { errorText, h, nodes } from './dom.ts';
import { renderLauncher } from './launcher.ts';
import { canUseConsole, consoleHref, defaultSection, parseRoute, type Route } from './route.ts';
import type { Me } from './types.ts';

/** What a page leaves running (timers, event streams) until the next page replaces it. */
export interface View {
  dispose(): void;
}

export interface Ctx {
  me: Me;
  /** Changes the page to `href` (an app path) without reloading. */
  navigate(href: string, options?: { replace?: boolean }): void;
}

const topbar = document.getElementById('topbar')!;
const root = document.getElementById('root')!;

function renderTopbar(me: Me, route: Route): void {
  const here = (page: Route['page']) => (route.page === page ? 'page' : null);
  topbar.replaceChildren(
    ...nodes(
      h('a', { class: 'brand', href: '/' }, 'Floe'),
      me.tenant ? h('span', { class: 'tenant-name' }, me.tenant.name) : null,
      h(
        'nav',
        { 'aria-label': 'Main', class: 'topnav' },
        h('a', { href: '/', 'aria-current': here('launcher') }, 'Apps'),
        canUseConsole(me.role)
          ? h('a', { href: '/console', 'aria-current': here('console') }, 'Console')
          : null,
      ),
      h('span', { class: 'spacer' }),
      me.user ? h('span', { class: 'who', title: me.user.name ?? '' }, me.user.email) : null,
      h('a', { class: 'signout', href: '/logout' }, 'Sign out'),
    ),
  );
}

let current: View | null = null;
let me: Me | null = null;

function render(focus: boolean): void {
  if (!me) return;
  let route = parseRoute(location.pathname, location.search);
  if (route.page === 'console' && route.section === null && canUseConsole(me.role)) {
    // /console lands on its first section
    const section = defaultSection(me, route.tenant);
    history.replaceState(null, '', consoleHref(section, { tenant: route.tenant }));
    route = { ...route, section };
  }
  current?.dispose();
  current = null;
  renderTopbar(me, route);
  const main = h('main', { id: 'main', tabindex: '-1' });
  root.replaceChildren(main);
  const ctx: Ctx = { me, navigate };
  switch (route.page) {
    case 'launcher':
      current = renderLauncher(main, ctx);
      break;
    case 'console':
      current = renderConsole(main, ctx, route);
      break;
    case 'not-found':
      document.title = 'Not found — Floe';
      main.append(
        h('h1', {}, 'Page not found'),
        h(
          'p',
          {},
          'Nothing lives at ',
          h('code', {}, route.path),
          '. ',
          h('a', { href: '/' }, 'Go to your apps'),
          '.',
        ),
      );
  }
  // After a change of page, a screen reader starts at the new page's content.
  if (focus) main.focus({ preventScroll: true });
}

export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  render(true);
  if (!options.replace) scrollTo(0, 0);
}

/** Same-origin links of the app go through `navigate`; everything else is left alone. */
document.addEventListener('click', (event) => {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = (event.target as Element | null)?.closest?.('a');
  if (!link || link.target || link.hasAttribute('download') || link.origin !== location.origin) {
    return;
  }
  if (link.getAttribute('href')?.startsWith('#')) return; // the skip link, in-page anchors
  const route = parseRoute(link.pathname, link.search);
  if (route.page === 'not-found') return; // /logout, /sessions/…: real navigations
  event.preventDefault();
  if (link.pathname + link.search !== location.pathname + location.search) {
    navigate(link.pathname + link.search);
  }
});

addEventListener('popstate', () => render(true));

async function start(): Promise<void> {
  try {
    me = await api.get<Me>('/me');
  } catch (err) {
    const retry = h('button', { type: 'button', onclick: () => location.reload() }, 'Try again');
    root.replaceChildren(
      h(
        'main',
        { id: 'main' },
        h('h1', {}, 'Floe cannot start'),
        h('p', { role: 'alert' }, errorText(err)),
        retry,
      ),
    );
    return;
  }
  render(false);
}

start();
