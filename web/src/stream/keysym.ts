/**
 * KeyboardEvent → X keysym. The browser has already applied the user's layout, so we send
 * what the key produced (`key`) rather than where it sits (`code`), which keeps non-US layouts
 * right on a US-mapped X server. `code` decides only where `key` cannot: left/right modifiers
 * and the numeric keypad.
 */

export interface KeyLike {
  key: string;
  code: string;
}

/** Modifiers and keypad keys told apart by physical position. */
const BY_CODE: Record<string, number> = {
  ShiftLeft: 0xffe1,
  ShiftRight: 0xffe2,
  ControlLeft: 0xffe3,
  ControlRight: 0xffe4,
  AltLeft: 0xffe9,
  AltRight: 0xffea,
  MetaLeft: 0xffeb, // Super_L: what a Windows/Command key is on an X desktop
  MetaRight: 0xffec,
  OSLeft: 0xffeb,
  OSRight: 0xffec,
  CapsLock: 0xffe5,
};

/** Keypad operators: their KP_ keysym, when the key produces the keypad's usual symbol. */
const KEYPAD_SYMBOL: Record<string, { key: string; keysym: number }> = {
  NumpadAdd: { key: '+', keysym: 0xffab },
  NumpadSubtract: { key: '-', keysym: 0xffad },
  NumpadMultiply: { key: '*', keysym: 0xffaa },
  NumpadDivide: { key: '/', keysym: 0xffaf },
  NumpadDecimal: { key: '.', keysym: 0xffae },
  NumpadComma: { key: ',', keysym: 0xffac },
  NumpadEqual: { key: '=', keysym: 0xffbd },
  NumpadEnter: { key: 'Enter', keysym: 0xff8d },
};

/** Keypad keys when NumLock is off: the browser reports the navigation key they stand for. */
const KEYPAD_NAVIGATION: Record<string, number> = {
  Insert: 0xff9e,
  Delete: 0xff9f,
  End: 0xff9c,
  ArrowDown: 0xff99,
  PageDown: 0xff9b,
  ArrowLeft: 0xff96,
  Clear: 0xff9d, // KP_Begin: the middle key, 5
  ArrowRight: 0xff98,
  Home: 0xff95,
  ArrowUp: 0xff97,
  PageUp: 0xff9a,
};

const BY_KEY: Record<string, number> = {
  Backspace: 0xff08,
  Tab: 0xff09,
  Clear: 0xff0b,
  Enter: 0xff0d,
  Pause: 0xff13,
  ScrollLock: 0xff14,
  Escape: 0xff1b,
  Home: 0xff50,
  ArrowLeft: 0xff51,
  ArrowUp: 0xff52,
  ArrowRight: 0xff53,
  ArrowDown: 0xff54,
  PageUp: 0xff55,
  PageDown: 0xff56,
  End: 0xff57,
  Select: 0xff60,
  PrintScreen: 0xff61,
  Execute: 0xff62,
  Insert: 0xff63,
  Undo: 0xff65,
  Redo: 0xff66,
  ContextMenu: 0xff67,
  Find: 0xff68,
  Cancel: 0xff69,
  Help: 0xff6a,
  NumLock: 0xff7f,
  Delete: 0xffff,
  // Modifiers whose `code` was not recognised (virtual keyboards, unusual hardware).
  Shift: 0xffe1,
  Control: 0xffe3,
  Alt: 0xffe9,
  Meta: 0xffeb,
  Super: 0xffeb,
  Hyper: 0xffed,
  CapsLock: 0xffe5,
  AltGraph: 0xfe03, // ISO_Level3_Shift
  // Japanese and Korean input keys.
  KanaMode: 0xff2d,
  HiraganaKatakana: 0xff27,
  Hiragana: 0xff25,
  Katakana: 0xff26,
  Romaji: 0xff24,
  ZenkakuHankaku: 0xff2a,
  Convert: 0xff23,
  NonConvert: 0xff22,
  HangulMode: 0xff31,
  HanjaMode: 0xff34,
};

/** A table's own entry: a key or code named like an Object method ("toString") is no key. */
const own = <T>(table: Record<string, T>, name: string): T | undefined =>
  Object.hasOwn(table, name) ? table[name] : undefined;

const F1 = 0xffbe;
const UNICODE_KEYSYM = 0x0100_0000;

/** The keysym of a single character: Latin-1 keysyms equal the code point, others are X's Unicode keysyms. */
export function charKeysym(char: string): number | null {
  const cp = char.codePointAt(0);
  if (cp === undefined || [...char].length !== 1) return null;
  if ((cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xff)) return cp;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return null; // control characters are not keys
  return UNICODE_KEYSYM + cp;
}

/**
 * The keysym for a key event, or null when the key should not reach the remote display:
 * dead keys (the browser reports the composed character on the next key, which we send
 * instead, so the remote never needs to compose), IME processing and unidentified keys.
 */
export function keysymFor(event: KeyLike): number | null {
  const { key, code } = event;
  if (code === 'AltRight' && key === 'AltGraph') return BY_KEY.AltGraph!;
  const byCode = own(BY_CODE, code);
  if (byCode !== undefined) return byCode;

  if (code.startsWith('Numpad')) {
    const keypad = keypadKeysym(key, code);
    if (keypad !== null) return keypad;
  }

  const named = own(BY_KEY, key);
  if (named !== undefined) return named;
  const fn = /^F([1-9]|1[0-9]|2[0-4])$/.exec(key);
  if (fn) return F1 + Number(fn[1]) - 1;

  return charKeysym(key);
}

function keypadKeysym(key: string, code: string): number | null {
  if (/^Numpad[0-9]$/.test(code)) {
    if (/^[0-9]$/.test(key)) return 0xffb0 + Number(key);
    return own(KEYPAD_NAVIGATION, key) ?? null;
  }
  if (code === 'NumpadDecimal' && key === 'Delete') return KEYPAD_NAVIGATION.Delete!;
  const symbol = own(KEYPAD_SYMBOL, code);
  // Only when the key produces the keypad's usual symbol: a layout whose keypad decimal is a
  // comma is better served by the comma it produced than by a KP_Decimal the remote maps to '.'.
  if (symbol !== undefined && symbol.key === key) return symbol.keysym;
  return null;
}

/**
 * Shortcuts the page keeps for itself instead of forwarding: Ctrl+Alt+Shift + a letter, a
 * combination no desktop application is likely to need.
 */
export type LocalShortcut = 'stats' | 'pointerLock' | 'fullscreen';

export interface ShortcutLike {
  code: string;
  ctrlKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
  metaKey: boolean;
}

export function localShortcut(e: ShortcutLike): LocalShortcut | null {
  if (!(e.ctrlKey && e.altKey && e.shiftKey) || e.metaKey) return null;
  switch (e.code) {
    case 'KeyS':
      return 'stats';
    case 'KeyL':
      return 'pointerLock';
    case 'KeyF':
      return 'fullscreen';
    default:
      return null;
  }
}

/**
 * The keys that paste in the browser. Their keydown is left to the browser so that it fires
 * a `paste` event (which carries the clipboard text we forward first), and the key itself is
 * sent a moment later so the remote application pastes the new text, not the old.
 */
export function isPasteShortcut(e: ShortcutLike & { key: string }): boolean {
  if (e.code === 'Insert' && e.shiftKey && !e.ctrlKey && !e.altKey) return true;
  const v = e.key === 'v' || e.key === 'V' || e.code === 'KeyV';
  return v && !e.altKey && (e.ctrlKey || e.metaKey);
}
