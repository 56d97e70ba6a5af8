import type { InputMessage } from './protocol.ts';

/**
 * What the streamer captures and drives: an X display with input injection, clipboard and
 * resize. The streamer only needs this small surface, so the bare benchmark source and the
 * X11 implementation plug into the same server.
 */
export interface Desktop {
  /** The X display the pipeline captures (unused by the bare source). */
  display: string;
  source: 'x11' | 'bare';
  size(): { width: number; height: number };
  resizable: boolean;
  /** Applies one validated input message (key, pointer, wheel, reset). */
  input(
    message: Exclude<
      InputMessage,
      { t: 'clipboard' | 'resize' | 'ping' | 'still-here' | 'gamepad' }
    >,
  ): void;
  setClipboard(text: string): void;
  /** Text another X client put on the clipboard. */
  onClipboard(listener: (text: string) => void): void;
  resize(width: number, height: number): Promise<{ width: number; height: number }>;
  /** Sets the display's DPI (Xft.dpi and the physical size); absent where there is no X. */
  setDpi?(dpi: number): Promise<void>;
  close(): Promise<void>;
}

/** Frames painted by the pipeline itself: no X server, no input (for the benchmark). */
export function bareDesktop(width: number, height: number): Desktop {
  return {
    display: '',
    source: 'bare',
    size: () => ({ width, height }),
    resizable: false,
    input: () => {},
    setClipboard: () => {},
    onClipboard: () => {},
    resize: async () => {
      throw new Error('the bare source cannot be resized');
    },
    close: async () => {},
  };
}
