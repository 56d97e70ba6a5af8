import type { InputMessage } from '@floe/streamer/protocol';
import { isPasteShortcut, keysymFor, type LocalShortcut, localShortcut } from './keysym.ts';

/**
 * Forwards the keyboard to the remote display while it has focus. Keys are remembered by
 * physical key (`code`) while held, so the release sends the keysym the press sent even when
 * a modifier changed what the key means in between (press 'a', press Shift, release: 'a').
 */

export interface KeyboardOptions {
  send(message: InputMessage): void;
  /** Whether keys should go to the remote (the video area is focused or the pointer locked). */
  capturing(): boolean;
  shortcut(which: LocalShortcut): void;
}

export interface KeyboardHandle {
  /** Forget held keys and tell the remote to release everything. */
  reset(): void;
  detach(): void;
}

export function attachKeyboard(options: KeyboardOptions): KeyboardHandle {
  const held = new Map<string, number>();
  // Key messages waiting for a paste event to go first (see isPasteShortcut).
  let queued: InputMessage[] | null = null;

  const send = (message: InputMessage) => {
    if (queued) queued.push(message);
    else options.send(message);
  };

  const id = (e: KeyboardEvent) => e.code || `key:${e.key}`;

  const onKeyDown = (e: KeyboardEvent) => {
    const shortcut = localShortcut(e);
    if (shortcut) {
      e.preventDefault();
      if (!e.repeat) options.shortcut(shortcut);
      return;
    }
    if (!options.capturing() || e.isComposing) return;
    const keysym = keysymFor(e);
    // Dead keys are left to the browser: cancelling them would stop it composing the
    // accented character that the next keydown reports.
    if (keysym === null) return;
    if (isPasteShortcut(e)) {
      // Not prevented, so the browser fires `paste` (clipboard forwarded first); the key follows.
      queued ??= [];
      setTimeout(() => {
        const messages = queued ?? [];
        queued = null;
        for (const m of messages) options.send(m);
      }, 0);
    } else {
      e.preventDefault();
    }
    // The X server repeats held keys itself; forwarding the browser's repeats would double them.
    if (e.repeat && held.has(id(e))) return;
    held.set(id(e), keysym);
    send({ t: 'key', keysym, down: true });
  };

  const onKeyUp = (e: KeyboardEvent) => {
    const keysym = held.get(id(e));
    if (keysym === undefined) return;
    held.delete(id(e));
    e.preventDefault();
    send({ t: 'key', keysym, down: false });
  };

  window.addEventListener('keydown', onKeyDown, { capture: true });
  window.addEventListener('keyup', onKeyUp, { capture: true });

  return {
    reset() {
      held.clear();
      send({ t: 'reset' });
    },
    detach() {
      window.removeEventListener('keydown', onKeyDown, { capture: true });
      window.removeEventListener('keyup', onKeyUp, { capture: true });
    },
  };
}
