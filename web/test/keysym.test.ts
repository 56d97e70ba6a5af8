import { describe, expect, it } from 'vitest';
import { charKeysym, isPasteShortcut, keysymFor, localShortcut } from '../src/stream/keysym.ts';

const key = (k: string, code = '') => keysymFor({ key: k, code });

describe('keysymFor', () => {
  it('maps ASCII and Latin-1 characters to their code point', () => {
    expect(key('a', 'KeyA')).toBe(0x61);
    expect(key('A', 'KeyA')).toBe(0x41);
    expect(key(' ', 'Space')).toBe(0x20);
    expect(key('~', 'Backquote')).toBe(0x7e);
    expect(key('é', 'Digit2')).toBe(0xe9);
    expect(key('ß', 'Minus')).toBe(0xdf);
    expect(key('\u00a0')).toBe(0xa0);
  });

  it('maps other characters to X Unicode keysyms', () => {
    expect(key('ж', 'Semicolon')).toBe(0x1000436);
    expect(key('€', 'KeyE')).toBe(0x10020ac);
    expect(key('😀')).toBe(0x101f600);
  });

  it('tells left and right modifiers apart by code', () => {
    expect(key('Shift', 'ShiftLeft')).toBe(0xffe1);
    expect(key('Shift', 'ShiftRight')).toBe(0xffe2);
    expect(key('Control', 'ControlLeft')).toBe(0xffe3);
    expect(key('Control', 'ControlRight')).toBe(0xffe4);
    expect(key('Alt', 'AltLeft')).toBe(0xffe9);
    expect(key('Alt', 'AltRight')).toBe(0xffea);
    expect(key('Meta', 'MetaLeft')).toBe(0xffeb);
    expect(key('Meta', 'MetaRight')).toBe(0xffec);
    expect(key('OS', 'OSLeft')).toBe(0xffeb);
    expect(key('CapsLock', 'CapsLock')).toBe(0xffe5);
  });

  it('sends AltGraph as ISO_Level3_Shift', () => {
    expect(key('AltGraph', 'AltRight')).toBe(0xfe03);
    expect(key('AltGraph', '')).toBe(0xfe03);
  });

  it('falls back to the left modifier without a code', () => {
    expect(key('Shift')).toBe(0xffe1);
    expect(key('Control')).toBe(0xffe3);
  });

  it('maps named keys', () => {
    expect(key('Enter', 'Enter')).toBe(0xff0d);
    expect(key('Backspace', 'Backspace')).toBe(0xff08);
    expect(key('Tab', 'Tab')).toBe(0xff09);
    expect(key('Escape', 'Escape')).toBe(0xff1b);
    expect(key('Delete', 'Delete')).toBe(0xffff);
    expect(key('ArrowLeft', 'ArrowLeft')).toBe(0xff51);
    expect(key('ArrowUp', 'ArrowUp')).toBe(0xff52);
    expect(key('ArrowRight', 'ArrowRight')).toBe(0xff53);
    expect(key('ArrowDown', 'ArrowDown')).toBe(0xff54);
    expect(key('Home', 'Home')).toBe(0xff50);
    expect(key('End', 'End')).toBe(0xff57);
    expect(key('PageUp', 'PageUp')).toBe(0xff55);
    expect(key('PageDown', 'PageDown')).toBe(0xff56);
    expect(key('Insert', 'Insert')).toBe(0xff63);
    expect(key('ContextMenu', 'ContextMenu')).toBe(0xff67);
    expect(key('PrintScreen', 'PrintScreen')).toBe(0xff61);
    expect(key('Pause', 'Pause')).toBe(0xff13);
    expect(key('ScrollLock', 'ScrollLock')).toBe(0xff14);
    expect(key('NumLock', 'NumLock')).toBe(0xff7f);
  });

  it('maps F1–F24', () => {
    expect(key('F1', 'F1')).toBe(0xffbe);
    expect(key('F12', 'F12')).toBe(0xffc9);
    expect(key('F24', 'F24')).toBe(0xffd5);
    expect(key('F25')).toBeNull();
  });

  it('maps keypad digits and operators to KP_ keysyms', () => {
    expect(key('0', 'Numpad0')).toBe(0xffb0);
    expect(key('7', 'Numpad7')).toBe(0xffb7);
    expect(key('+', 'NumpadAdd')).toBe(0xffab);
    expect(key('-', 'NumpadSubtract')).toBe(0xffad);
    expect(key('*', 'NumpadMultiply')).toBe(0xffaa);
    expect(key('/', 'NumpadDivide')).toBe(0xffaf);
    expect(key('.', 'NumpadDecimal')).toBe(0xffae);
    expect(key('Enter', 'NumpadEnter')).toBe(0xff8d);
  });

  it('maps keypad keys with NumLock off to keypad navigation keysyms', () => {
    expect(key('Home', 'Numpad7')).toBe(0xff95);
    expect(key('ArrowUp', 'Numpad8')).toBe(0xff97);
    expect(key('Clear', 'Numpad5')).toBe(0xff9d);
    expect(key('Insert', 'Numpad0')).toBe(0xff9e);
    expect(key('Delete', 'NumpadDecimal')).toBe(0xff9f);
  });

  it('keeps the character a layout puts on the keypad decimal key', () => {
    expect(key(',', 'NumpadDecimal')).toBe(0x2c);
  });

  it('ignores dead keys, IME processing and unknown keys', () => {
    expect(key('Dead', 'BracketLeft')).toBeNull();
    expect(key('Process', 'KeyA')).toBeNull();
    expect(key('Unidentified', '')).toBeNull();
    expect(key('AudioVolumeUp', 'AudioVolumeUp')).toBeNull();
  });
});

describe('charKeysym', () => {
  it('refuses control characters and strings of more than one character', () => {
    expect(charKeysym('\n')).toBeNull();
    expect(charKeysym('\u007f')).toBeNull();
    expect(charKeysym('\u0085')).toBeNull();
    expect(charKeysym('ab')).toBeNull();
    expect(charKeysym('')).toBeNull();
  });
});

const mods = { ctrlKey: false, altKey: false, shiftKey: false, metaKey: false };

describe('localShortcut', () => {
  it('keeps Ctrl+Alt+Shift+S/L/F for the page', () => {
    const all = { ...mods, ctrlKey: true, altKey: true, shiftKey: true };
    expect(localShortcut({ ...all, code: 'KeyS' })).toBe('stats');
    expect(localShortcut({ ...all, code: 'KeyL' })).toBe('pointerLock');
    expect(localShortcut({ ...all, code: 'KeyF' })).toBe('fullscreen');
    expect(localShortcut({ ...all, code: 'KeyA' })).toBeNull();
  });

  it('forwards the same keys with fewer modifiers', () => {
    expect(localShortcut({ ...mods, ctrlKey: true, altKey: true, code: 'KeyS' })).toBeNull();
    expect(localShortcut({ ...mods, code: 'KeyS' })).toBeNull();
  });
});

describe('isPasteShortcut', () => {
  it('knows Ctrl+V, Cmd+V, Ctrl+Shift+V and Shift+Insert', () => {
    expect(isPasteShortcut({ ...mods, ctrlKey: true, key: 'v', code: 'KeyV' })).toBe(true);
    expect(isPasteShortcut({ ...mods, metaKey: true, key: 'v', code: 'KeyV' })).toBe(true);
    expect(
      isPasteShortcut({ ...mods, ctrlKey: true, shiftKey: true, key: 'V', code: 'KeyV' }),
    ).toBe(true);
    expect(isPasteShortcut({ ...mods, shiftKey: true, key: 'Insert', code: 'Insert' })).toBe(true);
  });

  it('is not fooled by a plain v', () => {
    expect(isPasteShortcut({ ...mods, key: 'v', code: 'KeyV' })).toBe(false);
    expect(isPasteShortcut({ ...mods, ctrlKey: true, key: 'c', code: 'KeyC' })).toBe(false);
  });
});
