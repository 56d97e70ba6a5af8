/**
 * The launcher: the tenant's apps as tiles with LAUNCH → live progress → OPEN / SHUT DOWN, and
 * the user's active sessions. Sessions on their way up (or down) are followed through the
 * progress stream; running ones are refreshed every little while and when the tab comes back.
 *
 * Each action appears once per session: the tile owns the actions of the session it shows
 * (the newest of its app), where the user launched it and watched it start; "Your sessions"
 * lists every session and gives actions only to those no tile shows (an older session of
 * the same app, or one of an app since removed). "Shut down" is the one word for stopping a
 * session, here and in the console.
 */
import { api, listAll, tenantPath, type Watch, watchSession } from './api.ts';
import { appIcon, empty, errorText, h, loading, nodes } from './dom.ts';
import { formatAgo, gpuBadge } from './format.ts';
import type { Ctx, View } from './main.ts';
import {
  failedFrom,
  isLaunching,
  launchProgress,
  type Progress,
  stateLabel,
  tellEnded,
} from './progress.ts';
import { streamHref } from './route.ts';
import { type App, type Page, SESSION_STATES, type Session, type SessionState } from './types.ts';

const REFRESH_MS = 15_000;
/** Stopped sessions whose end the user dismissed (ids), kept across page loads. */
const DISMISSED_KEY = 'floe.dismissed-ends';

function loadDismissed(): Set<string> {
  try {
    const ids: unknown = JSON.parse(localStorage.getItem(DISMISSED_KEY) ?? '[]');
    return new Set(Array.isArray(ids) ? ids.filter((x) => typeof x === 'string') : []);
  } catch {
    return new Set();
  }
}

interface Tile {
  app: App;
  el: HTMLElement;
  status: HTMLElement;
  steps: HTMLOListElement;
  actions: HTMLElement;
  /** What the tile shows now, to leave it (and the focus in it) alone when nothing changed. */
  shown: string;
}

const rank = (state: SessionState) => SESSION_STATES.indexOf(state);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function renderLauncher(main: HTMLElement, ctx: Ctx): View {
  document.title = 'Apps — Floe';
  const { me } = ctx;
  main.append(h('h1', {}, 'Apps'));
  const tenant = me.tenant;
  if (!tenant) {
    main.append(
      ...nodes(
        empty('You do not belong to a tenant, so there are no apps to launch here.'),
        me.role === 'platform-admin'
          ? h('p', {}, h('a', { href: '/console' }, 'Open the console'))
          : null,
      ),
    );
    return { dispose() {} };
  }

  const sessions = new Map<string, Session>();
  /** The state each session was last seen in, to place a failure on its step. */
  const lastSeen = new Map<string, SessionState>();
  const watches = new Map<string, Watch>();
  const errors = new Map<string, string>(); // app id → refusal in words
  const pending = new Set<string>(); // app ids with a launch or shutdown request in flight
  const tiles = new Map<string, Tile>();
  // why a session ended is told unless the user shut it down (here, or anywhere: its reason)
  const stoppedHere = new Set<string>();
  const dismissed = loadDismissed();
  let apps: App[] = [];
  let ready = false; // the apps are in: sessions can be named
  let disposed = false;

  const sessionsList = h(
    'ul',
    { class: 'session-list', 'aria-label': 'Your sessions' },
    h('li', {}, loading('sessions')),
  );
  const sessionsSection = h(
    'section',
    { class: 'sessions', 'aria-labelledby': 'sessions-heading' },
    h('h2', { id: 'sessions-heading' }, 'Your sessions'),
    sessionsList,
  );
  const tileList = h(
    'ul',
    { class: 'tiles', 'aria-label': 'Apps', 'aria-busy': 'true' },
    h('li', {}, loading('apps')),
  );
  main.append(sessionsSection, h('h2', { class: 'visually-hidden' }, 'Catalog'), tileList);

  const sessionsPath = tenantPath(tenant.slug, '/sessions');
  const appName = (id: string) => apps.find((a) => a.id === id)?.name ?? 'Removed app';
  /** The session a tile shows: the newest of its app still worth showing. */
  const sessionOf = (appId: string) =>
    [...sessions.values()]
      .filter((s) => s.appId === appId)
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0];

  function progressOf(s: Session): Progress {
    return launchProgress(
      s.state,
      s.reason,
      s.state === 'failed' ? failedFrom(s.events, lastSeen.get(s.id) ?? null) : null,
    );
  }

  function update(s: Session): void {
    if (disposed) return;
    const before = sessions.get(s.id);
    // Answers from the list, the stream and DELETE may cross; a session never goes back.
    if (before && rank(s.state) < rank(before.state)) return;
    if (before && before.state !== s.state) lastSeen.set(s.id, before.state);
    if (s.state === 'stopped' && !tellEnded(s, Date.now(), { dismissed, stoppedHere })) {
      sessions.delete(s.id);
    } else sessions.set(s.id, s);
    if (!isLaunching(s.state) && s.state !== 'stopping') {
      watches.get(s.id)?.close();
      watches.delete(s.id);
    } else if (!watches.has(s.id)) {
      watches.set(s.id, watchSession(tenant!.slug, s.id, update));
    }
    renderTile(s.appId);
    renderSessions();
  }

  async function launch(app: App): Promise<void> {
    pending.add(app.id);
    errors.delete(app.id);
    // a failed session of this app is replaced by the new attempt; a told stop is read
    for (const s of sessions.values()) {
      if (s.appId !== app.id) continue;
      if (s.state === 'stopped') dismiss(s);
      else if (s.state === 'failed') sessions.delete(s.id);
    }
    renderTile(app.id);
    try {
      update(await api.post<Session>(sessionsPath, { app: app.slug }));
    } catch (err) {
      errors.set(app.id, errorText(err, me.role));
    } finally {
      pending.delete(app.id);
      renderTile(app.id);
    }
  }

  async function shutdown(s: Session): Promise<void> {
    stoppedHere.add(s.id);
    pending.add(s.appId);
    renderTile(s.appId);
    try {
      update(await api.del<Session>(`${sessionsPath}/${encodeURIComponent(s.id)}`));
    } catch (err) {
      errors.set(s.appId, errorText(err));
    } finally {
      pending.delete(s.appId);
      renderTile(s.appId);
    }
  }

  function dismiss(s: Session): void {
    sessions.delete(s.id);
    if (s.state === 'stopped') {
      dismissed.add(s.id);
      try {
        localStorage.setItem(DISMISSED_KEY, JSON.stringify([...dismissed].slice(-50)));
      } catch {
        // storage refused (private mode): dismissed for this page only
      }
    }
    renderTile(s.appId);
    renderSessions();
  }

  function actionsFor(app: App, s: Session | undefined, progress: Progress | null): HTMLElement[] {
    const busy = pending.has(app.id);
    const label = (verb: string) => `${verb} ${app.name}`;
    if (!s || !progress || progress.phase === 'ended') {
      return nodes(
        h(
          'button',
          {
            type: 'button',
            class: 'primary',
            disabled: busy,
            'aria-label': label('Launch'),
            onclick: () => launch(app),
          },
          busy ? 'Launching…' : 'Launch',
        ),
        // a stop the user did not ask for, told until they dismiss it
        s && progress?.phase === 'ended'
          ? h(
              'button',
              {
                type: 'button',
                'aria-label': label('Dismiss why it stopped:'),
                onclick: () => dismiss(s),
              },
              'Dismiss',
            )
          : null,
      ) as HTMLElement[];
    }
    switch (progress.phase) {
      case 'launching':
        return [
          h(
            'button',
            {
              type: 'button',
              disabled: busy,
              'aria-label': label('Cancel launching'),
              onclick: () => shutdown(s),
            },
            'Cancel',
          ),
        ];
      case 'ready':
        return [
          h(
            'a',
            { class: 'button primary', href: streamHref(s.id), 'aria-label': label('Open') },
            'Open',
          ),
          h(
            'button',
            {
              type: 'button',
              disabled: busy,
              'aria-label': label('Shut down'),
              onclick: () => shutdown(s),
            },
            busy ? 'Shutting down…' : 'Shut down',
          ),
        ];
      case 'stopping':
        return [h('button', { type: 'button', disabled: true }, 'Shutting down…')];
      case 'failed':
        return [
          h(
            'button',
            {
              type: 'button',
              class: 'primary',
              disabled: busy,
              'aria-label': label('Launch again'),
              onclick: () => launch(app),
            },
            'Launch again',
          ),
          h(
            'button',
            {
              type: 'button',
              'aria-label': label('Dismiss the failure of'),
              onclick: () => dismiss(s),
            },
            'Dismiss',
          ),
        ];
    }
  }

  function renderTile(appId: string): void {
    const tile = tiles.get(appId);
    if (!tile) return;
    const s = sessionOf(appId);
    const progress = s ? progressOf(s) : null;
    const error = errors.get(appId);
    const shown = JSON.stringify([s?.id, s?.state, s?.reason, error, pending.has(appId)]);
    if (shown === tile.shown) return;
    tile.shown = shown;
    tile.el.dataset.phase = progress?.phase ?? 'idle';
    tile.el.classList.toggle('has-error', Boolean(error));
    const message = error ?? progress?.message ?? '';
    if (tile.status.textContent !== message) tile.status.textContent = message;
    tile.steps.hidden = progress?.phase !== 'launching';
    tile.steps.replaceChildren(
      ...(progress?.steps ?? []).map((step) =>
        h(
          'li',
          {
            class: `step ${step.status}`,
            'aria-current': step.status === 'current' ? 'step' : null,
          },
          h(
            'span',
            { class: 'visually-hidden' },
            `${step.status === 'done' ? 'Done' : step.status === 'current' ? 'In progress' : step.status === 'failed' ? 'Failed' : 'To do'}: `,
          ),
          step.label,
        ),
      ),
    );
    const hadFocus = tile.actions.contains(document.activeElement);
    tile.actions.replaceChildren(...actionsFor(tile.app, s, progress));
    if (hadFocus) tile.actions.querySelector<HTMLElement>('a, button:not(:disabled)')?.focus();
  }

  function renderTiles(): void {
    tileList.removeAttribute('aria-busy');
    tiles.clear();
    if (apps.length === 0) {
      tileList.replaceChildren(
        h('li', { class: 'empty-tile' }, empty('No apps yet. An admin adds them in the console.')),
      );
      return;
    }
    tileList.replaceChildren(
      ...apps.map((app) => {
        const badge = gpuBadge(app.resources.gpus);
        const headingId = `app-${app.id}`;
        const tile: Tile = {
          app,
          el: h('li', { class: 'tile', 'data-app': app.slug, 'aria-labelledby': headingId }),
          status: h('p', { class: 'tile-status', role: 'status', 'aria-live': 'polite' }),
          steps: h('ol', {
            class: 'steps',
            'aria-label': `Launch progress of ${app.name}`,
            hidden: true,
          }),
          actions: h('div', { class: 'tile-actions' }),
          shown: '',
        };
        tile.el.append(
          h(
            'div',
            { class: 'tile-head' },
            appIcon(app.name, app.icon, 'tile-icon', 48),
            h(
              'div',
              {},
              h('h3', { id: headingId }, app.name),
              badge ? h('span', { class: 'badge', title: `${badge} GPU` }, badge) : null,
            ),
          ),
          h('p', { class: 'tile-description' }, app.description || '\u00a0'),
          tile.steps,
          tile.status,
          tile.actions,
        );
        tiles.set(app.id, tile);
        renderTile(app.id);
        return tile.el;
      }),
    );
  }

  function renderSessions(): void {
    if (!ready) return;
    const active = [...sessions.values()]
      .filter((s) => s.state !== 'failed' && s.state !== 'stopped')
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
    if (active.length === 0) {
      sessionsList.replaceChildren(
        h('li', { class: 'empty' }, 'No sessions running. Launch an app below.'),
      );
      sessionsList.dataset.shown = '';
      return;
    }
    const now = Date.now();
    // a session its app's tile shows has its actions there, not twice
    const onTile = (s: Session) => tiles.has(s.appId) && sessionOf(s.appId)?.id === s.id;
    const shown = JSON.stringify(
      active.map((s) => [
        s.id,
        s.state,
        formatAgo(s.createdAt, now),
        pending.has(s.appId),
        onTile(s),
      ]),
    );
    if (shown === sessionsList.dataset.shown) return;
    sessionsList.dataset.shown = shown;
    sessionsList.replaceChildren(
      ...active.map((s) =>
        h(
          'li',
          { class: 'session', 'data-session': s.id, 'data-state': s.state },
          onTile(s)
            ? h(
                'a',
                {
                  class: 'session-app',
                  href: `#app-${s.appId}`,
                  title: 'Its actions are on the app’s tile',
                },
                appName(s.appId),
              )
            : h('span', { class: 'session-app' }, appName(s.appId)),
          h('span', { class: `state ${s.state}` }, stateLabel(s.state)),
          h('span', { class: 'muted' }, `started ${formatAgo(s.createdAt, now)}`),
          h('span', { class: 'spacer' }),
          ...(onTile(s) ? [] : listActions(s)),
        ),
      ),
    );
  }

  /** Open / Shut down in "Your sessions", for a session no tile shows. */
  function listActions(s: Session): HTMLElement[] {
    const name = appName(s.appId);
    return nodes(
      s.state === 'running'
        ? h('a', { class: 'button', href: streamHref(s.id), 'aria-label': `Open ${name}` }, 'Open')
        : null,
      s.state !== 'stopping'
        ? h(
            'button',
            {
              type: 'button',
              'aria-label': `Shut down ${name}`,
              disabled: pending.has(s.appId),
              onclick: () => shutdown(s),
            },
            'Shut down',
          )
        : null,
    ) as HTMLElement[];
  }

  async function refresh(): Promise<void> {
    const active = await listAll<Session>(sessionsPath, {
      state: 'active',
      // members see only their own anyway; an admin's launcher shows theirs only too
      user: me.user && UUID.test(me.user.id) ? me.user.id : undefined,
    });
    if (disposed) return;
    const seen = new Set(active.map((s) => s.id));
    // Gone from the active list while not followed: ended elsewhere (another tab, an idle
    // shutdown, its lifetime, an admin): its own answer says how, and the tile tells why.
    for (const [id, s] of sessions) {
      if (!seen.has(id) && s.state !== 'failed' && s.state !== 'stopped' && !watches.has(id)) {
        sessions.delete(id);
        renderTile(s.appId);
        api
          .get<Session>(`${sessionsPath}/${encodeURIComponent(id)}`)
          .then(update)
          .catch(() => {}); // gone for good: nothing to tell
      }
    }
    for (const s of active) update(s);
    renderSessions();
  }

  /** The user's latest stopped sessions: those they did not shut down are told on the tiles. */
  async function recentEnds(): Promise<void> {
    const ended = await api.get<Page<Session>>(sessionsPath, {
      state: 'stopped',
      limit: 10,
      user: me.user && UUID.test(me.user.id) ? me.user.id : undefined,
    });
    if (disposed) return;
    for (const s of ended.items) if (!sessions.has(s.id)) update(s);
  }

  const loaded = Promise.all([
    listAll<App>(tenantPath(tenant.slug, '/apps')),
    refresh(),
    // an older stop never hides the launcher
    recentEnds().catch(() => {}),
  ])
    .then(([list]) => {
      if (disposed) return;
      apps = list.sort((a, b) => a.name.localeCompare(b.name));
      ready = true;
      renderTiles();
      renderSessions();
    })
    .catch((err: unknown) => {
      tileList.removeAttribute('aria-busy');
      sessionsList.replaceChildren();
      tileList.replaceChildren(
        h(
          'li',
          { class: 'empty-tile' },
          h('p', { class: 'notice error', role: 'alert' }, errorText(err)),
        ),
      );
    });

  const timer = setInterval(() => {
    if (document.visibilityState === 'visible') refresh().catch(() => {});
  }, REFRESH_MS);
  const onVisible = () => {
    if (document.visibilityState === 'visible') loaded.then(refresh).catch(() => {});
  };
  document.addEventListener('visibilitychange', onVisible);

  return {
    dispose() {
      disposed = true;
      clearInterval(timer);
      document.removeEventListener('visibilitychange', onVisible);
      for (const w of watches.values()) w.close();
    },
  };
}
