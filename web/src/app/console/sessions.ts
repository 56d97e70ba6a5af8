/** Live sessions: every active session of the tenant, refreshed while shown; terminate any. */
import { api, listAll, tenantPath } from '../api.ts';
import { confirmButton, empty, errorText, h, loading, notice, row, table } from '../dom.ts';
import { formatAgo, gpuBadge } from '../format.ts';
import { stateLabel } from '../progress.ts';
import type { App, Session, User } from '../types.ts';
import type { SectionCtx } from './shell.ts';

const REFRESH_MS = 10_000;

export function sessionsSection(el: HTMLElement, ctx: SectionCtx) {
  const slug = ctx.tenant!.slug;
  const status = notice();
  const list = h('div', { class: 'list', 'aria-live': 'off' }, loading('sessions'));
  const refreshButton = h('button', { type: 'button', onclick: () => load() }, 'Refresh');
  el.append(
    h(
      'p',
      { class: 'toolbar-row' },
      refreshButton,
      h('span', { class: 'muted' }, ` Refreshes every ${REFRESH_MS / 1000} s.`),
    ),
    status.el,
    list,
  );

  let names: { users: Map<string, string>; apps: Map<string, string> } | null = null;
  const namesOf = async () => {
    if (!names) {
      const [users, apps] = await Promise.all([
        listAll<User>(tenantPath(slug, '/users')).catch(() => [] as User[]),
        listAll<App>(tenantPath(slug, '/apps')).catch(() => [] as App[]),
      ]);
      names = {
        users: new Map(users.map((u) => [u.id, u.email])),
        apps: new Map(apps.map((a) => [a.id, a.name])),
      };
    }
    return names;
  };

  async function load() {
    try {
      const [active, n] = await Promise.all([
        listAll<Session>(tenantPath(slug, '/sessions'), { state: 'active' }),
        namesOf(),
      ]);
      const now = Date.now();
      list.replaceChildren(
        active.length === 0
          ? empty('No sessions are running.')
          : table(
              'Live sessions',
              ['User', 'App', 'State', 'GPU', 'Started', ''],
              active.map((s) => {
                const who = n.users.get(s.userId) ?? s.userId.slice(0, 8);
                const app = n.apps.get(s.appId) ?? 'removed app';
                const tr = row(
                  who,
                  app,
                  h('span', { class: `state ${s.state}` }, stateLabel(s.state)),
                  gpuBadge(s.gpus) ?? '—',
                  h(
                    'time',
                    { datetime: s.createdAt, title: s.createdAt },
                    formatAgo(s.createdAt, now),
                  ),
                  s.state === 'stopping'
                    ? h('span', { class: 'muted' }, 'shutting down…')
                    : confirmButton('Shut down', `Shut down ${app} of ${who}?`, async () => {
                        try {
                          await api.del(tenantPath(slug, `/sessions/${encodeURIComponent(s.id)}`));
                          status.ok(`Shutting down ${app} of ${who}.`);
                          await load();
                        } catch (err) {
                          status.error(err);
                        }
                      }),
                );
                tr.dataset.session = s.id;
                return tr;
              }),
            ),
      );
    } catch (err) {
      list.replaceChildren(h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
    }
  }

  load();
  const timer = setInterval(() => {
    // not while someone is about to confirm a shutdown: the row would be replaced under them
    if (document.visibilityState === 'visible' && !el.querySelector('.armed')) load();
  }, REFRESH_MS);
  return { dispose: () => clearInterval(timer) };
}
