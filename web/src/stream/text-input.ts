import type { InputMessage } from '@floe/streamer/protocol';
import { charKeysym } from './keysym.ts';

/**
 * Text that arrives as text rather than as keys: a phone's on-screen keyboard (which reports
 * `Unidentified` keys and delivers its characters through `beforeinput`) and an input method
 * composing CJK text (whose result comes with `compositionend`). Both need an editable element
 * with the focus, so the page keeps a hidden textarea for them; what they produce is typed on
 * the remote as key presses, one keysym per character (the streamer binds keysyms its layout
 * lacks, so '日' reaches the app as X's Unicode keysym for it).
 *
 * Keys the keyboard module recognises (a hardware keyboard's letters, arrows, Backspace) never
 * get here: it forwards and cancels their keydown, so the browser inserts nothing.
 */

const RETURN = 0xff0d;
const TAB = 0xff09;
const BACKSPACE = 0xff08;
const DELETE = 0xffff;

/** One keysym per character; line breaks are Return, tabs Tab, other controls are dropped. */
export function textKeysyms(text: string): number[] {
  const keysyms: number[] = [];
  for (const char of text.replace(/\r\n?/g, '\n')) {
    if (char === '\n') keysyms.push(RETURN);
    else if (char === '\t') keysyms.push(TAB);
    else {
      const keysym = charKeysym(char);
      if (keysym !== null) keysyms.push(keysym);
    }
  }
  return keysyms;
}

/**
 * The keysyms for a `beforeinput` event outside composition, or null for an input type the
 * remote has no keys for (formatting, history, drag and drop), which the page just cancels.
 */
export function inputKeysyms(inputType: string, data: string | null): number[] | null {
  switch (inputType) {
    // (no insertFromPaste: clipboard.ts takes every paste to the remote clipboard and cancels it)
    case 'insertText':
    case 'insertReplacementText':
    case 'insertFromComposition':
      return textKeysyms(data ?? '');
    case 'insertLineBreak':
    case 'insertParagraph':
      return [RETURN];
    case 'deleteContentBackward':
      return [BACKSPACE];
    case 'deleteContentForward':
      return [DELETE];
    default:
      return null;
  }
}

/** A press and a release per keysym, in order. */
export function typed(keysyms: number[]): InputMessage[] {
  return keysyms.flatMap((keysym): InputMessage[] => [
    { t: 'key', keysym, down: true },
    { t: 'key', keysym, down: false },
  ]);
}

export interface TextInputOptions {
  input: HTMLTextAreaElement;
  send(message: InputMessage): void;
}

export function attachTextInput({ input, send }: TextInputOptions): { detach(): void } {
  let composing = false;
  const type = (keysyms: number[]) => {
    for (const message of typed(keysyms)) send(message);
  };

  const onBeforeInput = (e: InputEvent) => {
    // The input method owns the text while composing; its result comes with compositionend.
    if (composing || e.isComposing || e.inputType === 'insertCompositionText') return;
    e.preventDefault();
    const keysyms = inputKeysyms(e.inputType, e.data);
    if (keysyms) type(keysyms);
  };
  const onCompositionStart = () => {
    composing = true;
  };
  const onCompositionEnd = (e: CompositionEvent) => {
    composing = false;
    type(textKeysyms(e.data));
    // The composed text was inserted into the textarea; it has been typed, so it goes.
    input.value = '';
  };
  input.addEventListener('beforeinput', onBeforeInput);
  input.addEventListener('compositionstart', onCompositionStart);
  input.addEventListener('compositionend', onCompositionEnd);
  return {
    detach() {
      input.removeEventListener('beforeinput', onBeforeInput);
      input.removeEventListener('compositionstart', onCompositionStart);
      input.removeEventListener('compositionend', onCompositionEnd);
    },
  };
}
