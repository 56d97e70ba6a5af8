import { describe, expect, it } from 'vitest';
import { inputKeysyms, textKeysyms, typed } from '../src/stream/text-input.ts';

describe('text typed on the remote', () => {
  it.each([
    ['ASCII as Latin-1 keysyms', 'Hi!', [0x48, 0x69, 0x21]],
    ['Latin-1 as itself', 'é', [0xe9]],
    ['CJK as Unicode keysyms', '日本', [0x1000000 + 0x65e5, 0x1000000 + 0x672c]],
    ['astral characters whole, not as surrogate halves', '😀', [0x1000000 + 0x1f600]],
    ['line breaks as Return, CRLF once', 'a\r\nb\nc', [0x61, 0xff0d, 0x62, 0xff0d, 0x63]],
    ['tabs as Tab', '\t', [0xff09]],
    ['other control characters not at all', 'a\u0007b', [0x61, 0x62]],
    ['nothing for nothing', '', []],
  ])('%s', (_, text, keysyms) => {
    expect(textKeysyms(text)).toEqual(keysyms);
  });

  it.each([
    ['insertText', 'a', [0x61]],
    ['insertReplacementText', 'ok', [0x6f, 0x6b]],
    ['insertFromComposition', '中', [0x1000000 + 0x4e2d]],
    ['insertText', null, []],
    ['insertLineBreak', null, [0xff0d]],
    ['insertParagraph', null, [0xff0d]],
    ['deleteContentBackward', null, [0xff08]],
    ['deleteContentForward', null, [0xffff]],
    ['formatBold', null, null],
    ['historyUndo', null, null],
    ['insertFromDrop', 'x', null],
    ['insertFromPaste', 'x', null],
  ])('beforeinput %s %j', (inputType, data, keysyms) => {
    expect(inputKeysyms(inputType, data)).toEqual(keysyms);
  });

  it('types each keysym as a press and a release, in order', () => {
    expect(typed([0x61, 0xff0d])).toEqual([
      { t: 'key', keysym: 0x61, down: true },
      { t: 'key', keysym: 0x61, down: false },
      { t: 'key', keysym: 0xff0d, down: true },
      { t: 'key', keysym: 0xff0d, down: false },
    ]);
  });
});
