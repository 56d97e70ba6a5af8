// Property tests (fast-check) of the page's key mapping: for any key event a browser can
// produce (any `key` string, any `code`), keysymFor answers without throwing, and what it
// sends is a keysym the streamer accepts — so no key press can make the streamer drop the
// viewer's input or reach the X server out of range. FLOE_FUZZ_RUNS raises the count.
import { inputMessage } from '@floe/streamer/protocol-schema';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { charKeysym, keysymFor } from '../src/stream/keysym.ts';

const RUNS = Number(process.env.FLOE_FUZZ_RUNS ?? 300) * 10;

const CODES = [
  'KeyA',
  'Digit1',
  'Numpad5',
  'NumpadDecimal',
  'NumpadAdd',
  'AltRight',
  'ShiftLeft',
  'F13',
  'IntlRo',
  'Lang1',
  '',
];
const KEYS = [
  'a',
  'A',
  'Dead',
  'Process',
  'Unidentified',
  'AltGraph',
  'F24',
  'F25',
  'Delete',
  'Home',
  ',',
  '€',
  '😀',
  '\u0000',
  '\u007f',
  '\ud800',
];

const key = fc.oneof(
  fc.constantFrom(...KEYS),
  fc.string({ maxLength: 4 }),
  fc.string({ unit: 'grapheme', maxLength: 2 }),
);
const code = fc.oneof(fc.constantFrom(...CODES), fc.string({ maxLength: 12 }));

const accepted = (keysym: number) =>
  inputMessage.safeParse({ t: 'key', keysym, down: true }).success;

describe('keysymFor, for any key event', () => {
  it('never throws, and gives null or a keysym the streamer accepts', () => {
    fc.assert(
      fc.property(key, code, (k, c) => {
        const keysym = keysymFor({ key: k, code: c });
        return keysym === null || accepted(keysym);
      }),
      { numRuns: RUNS },
    );
  });

  it('sends one character as the character (never a control character)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }), (ch) => {
        const keysym = charKeysym(ch);
        if ([...ch].length !== 1) return keysym === null;
        const cp = ch.codePointAt(0) as number;
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return keysym === null;
        return keysym !== null && accepted(keysym) && (keysym === cp || keysym === 0x100_0000 + cp);
      }),
      { numRuns: RUNS },
    );
    expect(charKeysym('')).toBeNull();
  });
});
