import type { Logger } from 'pino';
import type { Desktop } from './desktop.ts';
import { openClipboard } from './x11/clipboard.ts';
import { openConnection } from './x11/connection.ts';
import { BASE_DPI, setDisplayDpi } from './x11/dpi.ts';
import { openInputInjector } from './x11/input.ts';
import { resizeDisplay } from './x11/resize.ts';

/** The streamer's Desktop on a real X display: XTEST input, selections, RandR. */
export async function openX11Desktop(
  display: string,
  log: Logger,
  opts: { resizable?: boolean } = {},
): Promise<Desktop> {
  // One connection to learn the screen's size; each module keeps its own for its own job.
  const conn = await openConnection(display);
  const screen = conn.display.screen[0]!;
  let size = { width: screen.pixel_width, height: screen.pixel_height };
  /** The DPI resizes keep; `dpiSet` is false until a viewer asked for one (none is set before). */
  let dpi = BASE_DPI;
  let dpiSet = false;
  await conn.close();

  const input = await openInputInjector(display);
  const listeners: ((text: string) => void)[] = [];
  const clipboard = await openClipboard(display, (text) => {
    for (const listener of listeners) listener(text);
  });
  return {
    display,
    source: 'x11',
    size: () => size,
    resizable: opts.resizable ?? true,
    input(message) {
      try {
        switch (message.t) {
          case 'key':
            return input.key(message.keysym, message.down);
          case 'move':
            return input.moveAbsolute(message.x, message.y);
          case 'rel':
            return input.moveRelative(message.dx, message.dy);
          case 'button':
            return input.button(message.button, message.down);
          case 'wheel':
            return input.wheel(message.dx, message.dy);
          case 'reset':
            return input.reset();
        }
      } catch (error) {
        log.debug({ err: (error as Error).message, input: message.t }, 'input not injected');
      }
    },
    setClipboard: (text) => clipboard.set(text),
    onClipboard: (listener) => listeners.push(listener),
    async resize(width, height) {
      size = await resizeDisplay(display, width, height, dpi);
      return size;
    },
    async setDpi(wanted) {
      // every resize carries the scale; telling every X client again costs a screen change
      if (dpiSet && wanted === dpi) return;
      await setDisplayDpi(display, wanted);
      dpi = wanted;
      dpiSet = true;
    },
    async close() {
      await Promise.allSettled([input.close(), clipboard.close()]);
    },
  };
}
