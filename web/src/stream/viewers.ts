/**
 * Who is watching (issue 19): the streamer sends everyone the list on every change; each
 * viewer sees it, and the owner gets a button per other viewer to hand control over or take
 * it back, and one to remove them. Whether this page holds control is on
 * `body[data-control]` (a view-only page says so in the toolbar); the streamer refuses a
 * view-only viewer's input whatever the page does, so this is what the user sees, not the
 * rule.
 */
import type { InputMessage, StreamerMessage, ViewerInfo } from '@floe/streamer/protocol';

type ViewersMessage = Extract<StreamerMessage, { t: 'viewers' }>;

/** What the owner did to a viewer, as the gateway records it for the session's audit trail. */
export type ViewerAction = 'give-control' | 'take-control' | 'remove';

const actionOf = (m: InputMessage): ViewerAction | null =>
  m.t === 'remove' ? 'remove' : m.t === 'control' ? (m.on ? 'give-control' : 'take-control') : null;

/**
 * Reports an owner's action to the gateway beside the page (`viewer-actions`, with the
 * sign-in's CSRF token). Best effort: a page served by a streamer alone has no gateway.
 */
export function reportViewerAction(pageUrl: string, action: ViewerAction, viewer: string) {
  const csrf = document.cookie.match(/(?:^|; )floe_csrf=([^;]*)/)?.[1] ?? '';
  void fetch(new URL('viewer-actions', pageUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
    body: JSON.stringify({ action, viewer }),
  }).catch(() => {});
}

/** One row of the list, as a pure decision: its words and the actions offered on it. */
export function viewerRow(
  v: ViewerInfo,
  you: ViewerInfo | undefined,
): { label: string; actions: { text: string; message: InputMessage }[] } {
  const what = v.role === 'owner' ? 'owner' : v.control ? 'in control' : 'watching';
  const label = `${v.name}${you?.id === v.id ? ' (you)' : ''} — ${what}`;
  if (you?.role !== 'owner' || v.id === you.id || v.role === 'owner') return { label, actions: [] };
  return {
    label,
    actions: [
      v.control
        ? { text: 'Take control back', message: { t: 'control', viewer: v.id, on: false } }
        : { text: 'Give control', message: { t: 'control', viewer: v.id, on: true } },
      { text: 'Remove', message: { t: 'remove', viewer: v.id } },
    ],
  };
}

export function attachViewers(opts: {
  list: HTMLElement;
  toggle: HTMLButtonElement;
  send: (message: InputMessage) => void;
  /** records the owner's action (the streamer has already done it) */
  report: (action: ViewerAction, viewerUser: string) => void;
}) {
  return {
    update(message: ViewersMessage) {
      const you = message.viewers.find((v) => v.id === message.you);
      document.body.dataset.control = String(you?.control ?? false);
      document.body.dataset.role = you?.role ?? '';
      opts.toggle.textContent = `Viewers (${message.viewers.length})`;
      const items = message.viewers.map((v) => {
        const row = viewerRow(v, you);
        const li = document.createElement('li');
        li.dataset.viewer = v.id;
        const name = document.createElement('span');
        name.textContent = row.label;
        li.append(name);
        for (const action of row.actions) {
          const button = document.createElement('button');
          button.type = 'button';
          button.textContent = action.text;
          button.addEventListener('click', () => {
            opts.send(action.message);
            const what = actionOf(action.message);
            if (what) opts.report(what, v.user);
          });
          li.append(button);
        }
        return li;
      });
      opts.list.replaceChildren(...items);
    },
  };
}
