import type { InputMessage, StreamerMessage } from '@floe/streamer/protocol';
import { DEFAULT_LEAD_SECONDS, lifetimeOf, type WarningClocks, warningView } from './warning.ts';

/**
 * The banner over the stream that warns of a shutdown (decisions in warning.ts): a countdown,
 * and for an idle stop an "I'm still here" button that resets the streamer's idle clock.
 * It makes its own element, so the page's markup stays as it is.
 */

export interface WarningBanner {
  /** the streamer's idle notice */
  idle(notice: Extract<StreamerMessage, { t: 'idle' }>): void;
  /** a connection came up: ask the gateway how long the session may still live */
  connected(): void;
}

export function attachWarningBanner(opts: {
  parent: HTMLElement;
  send(message: InputMessage): boolean;
  /** the gateway's `state` URL; null for a page a streamer serves on its own */
  stateUrl: string | null;
}): WarningBanner {
  const clocks: WarningClocks = {
    idleStopAtMs: null,
    lifetime: null,
    leadSeconds: DEFAULT_LEAD_SECONDS,
  };
  const box = document.createElement('section');
  box.className = 'shutdown-warning';
  box.hidden = true;
  box.setAttribute('role', 'alertdialog');
  box.setAttribute('aria-labelledby', 'shutdown-warning-title');
  box.setAttribute('aria-describedby', 'shutdown-warning-text');
  const title = document.createElement('h2');
  title.id = 'shutdown-warning-title';
  const text = document.createElement('p');
  text.id = 'shutdown-warning-text';
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = 'I’m still here';
  box.append(title, text, button);
  opts.parent.append(box);

  let shown = '';
  const render = () => {
    const view = warningView(clocks, Date.now());
    const key = view.show ? `${view.cause}:${view.secondsLeft}` : '';
    if (key === shown) return;
    const appeared = !shown && view.show;
    shown = key;
    box.hidden = !view.show;
    if (!view.show) {
      delete document.body.dataset.warning;
      return;
    }
    document.body.dataset.warning = view.cause;
    title.textContent =
      view.cause === 'idle' ? 'Are you still there?' : 'This session is about to end';
    text.textContent = view.text;
    button.hidden = !view.canReset;
    // keyboard users land on the one thing to do; typing into the stream resets it as well
    if (appeared && view.canReset) button.focus({ preventScroll: true });
  };

  button.addEventListener('click', () => {
    if (!opts.send({ t: 'still-here' })) return;
    // the streamer confirms with a notice without a warning; until then, trust the click
    clocks.idleStopAtMs = null;
    render();
  });
  setInterval(render, 500);

  return {
    idle(notice) {
      clocks.leadSeconds = notice.leadSeconds;
      clocks.idleStopAtMs =
        notice.secondsLeft === null ? null : Date.now() + notice.secondsLeft * 1000;
      render();
    },
    connected() {
      const url = opts.stateUrl;
      if (!url) return;
      fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' })
        .then(async (res) => (res.ok ? res.json() : null))
        .then((body) => {
          clocks.lifetime = lifetimeOf(body, Date.now());
          render();
        })
        .catch(() => {}); // no answer: no lifetime warning, the stream goes on
    },
  };
}
