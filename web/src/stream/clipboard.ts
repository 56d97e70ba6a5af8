import type { InputMessage } from '@floe/streamer/protocol';
import { MAX_CLIPBOARD } from './contract.ts';

/**
 * Keeps the local and remote clipboards in step. Browsers guard the clipboard: writing needs
 * focus, reading needs a permission or a paste gesture. So the remote's text is also shown in
 * a panel, and the local text is taken whenever the browser lets us: on focus, unless reading
 * was denied (the first time, Chromium asks), and from every paste.
 */

export interface ClipboardOptions {
  send(message: InputMessage): void;
  /** The fallback panel's text area: shows the remote clipboard, edits go to the remote. */
  panel: HTMLTextAreaElement;
}

export interface ClipboardHandle {
  /** The remote clipboard changed. */
  fromRemote(text: string): void;
  /** Send this text to the remote clipboard (the panel's "send" button). */
  offer(text: string, force?: boolean): void;
  detach(): void;
}

/** The text to send, or null when the remote already has it (or it is too long to send). */
export function clipboardToSend(text: string, lastKnown: string | null): string | null {
  if (text === lastKnown || text.length > MAX_CLIPBOARD) return null;
  return text;
}

export function attachClipboard({ send, panel }: ClipboardOptions): ClipboardHandle {
  let last: string | null = null;

  const offer = (text: string, force = false) => {
    const next = force && text.length <= MAX_CLIPBOARD ? text : clipboardToSend(text, last);
    if (next === null) return;
    last = next;
    panel.value = next;
    send({ t: 'clipboard', text: next });
  };

  const readIfAllowed = async () => {
    if (!navigator.clipboard?.readText || !navigator.permissions) return;
    try {
      const status = await navigator.permissions.query({
        name: 'clipboard-read' as PermissionName,
      });
      if (status.state === 'denied') return;
      offer(await navigator.clipboard.readText());
    } catch {
      // Unknown permission name (Firefox, which would pop up a paste menu on every focus) or
      // reading refused: the paste path still works.
    }
  };

  const onFocus = () => {
    void readIfAllowed();
  };

  const onPaste = (e: ClipboardEvent) => {
    if (e.target === panel) return; // an ordinary paste into the panel
    const text = e.clipboardData?.getData('text/plain');
    if (text) offer(text);
    e.preventDefault();
  };

  window.addEventListener('focus', onFocus);
  document.addEventListener('paste', onPaste);

  return {
    fromRemote(text) {
      last = text;
      panel.value = text;
      if (document.hasFocus()) {
        navigator.clipboard?.writeText(text).catch(() => {
          // Denied: the panel shows the text for copying by hand.
        });
      }
    },
    offer,
    detach() {
      window.removeEventListener('focus', onFocus);
      document.removeEventListener('paste', onPaste);
    },
  };
}
