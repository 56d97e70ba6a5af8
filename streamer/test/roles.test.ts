// What each viewer of a shared session may send (issue 19), decided by the streamer itself:
// a view-only viewer's input and clipboard are refused whatever the gateway let through, and
// only the owner hands control over or removes someone. And the decisions of one encode for
// several viewers: the slowest link sets the bitrate, keyframes are rate-limited for all.
import { describe, expect, it } from 'vitest';
import { KEYFRAME_GAP_MS, keyframeDue, sharedBitrate } from '../src/broadcast.ts';
import type { InputMessage } from '../src/protocol.ts';
import {
  controlsOnJoin,
  mayDo,
  mayHandOver,
  receivesClipboard,
  type ViewerRights,
} from '../src/roles.ts';

const owner: ViewerRights = { role: 'owner', control: true };
const controller: ViewerRights = { role: 'control', control: true };
const watcher: ViewerRights = { role: 'viewer', control: false };
/** a view-only viewer the owner handed control to */
const handed: ViewerRights = { role: 'viewer', control: true };
/** a control grant the owner took control back from */
const takenBack: ViewerRights = { role: 'control', control: false };

describe('roles', () => {
  it('start with control for the owner and control grants, not for viewers', () => {
    expect([controlsOnJoin('owner'), controlsOnJoin('control'), controlsOnJoin('viewer')]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('decide every message type for every kind of viewer', () => {
    const types: (InputMessage['t'] | 'file' | 'gamepad')[] = [
      'key',
      'move',
      'rel',
      'button',
      'wheel',
      'reset',
      'clipboard',
      'resize',
      'ping',
      'control',
      'remove',
      // a message a newer page may send: refused unless in control (fail closed)
      'file',
      'gamepad',
    ];
    //                       key move rel btn whl rst clip size ping ctl rm file pad
    const table: [string, ViewerRights, number[]][] = [
      ['owner', owner, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]],
      ['control grant', controller, [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1]],
      ['viewer', watcher, [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]],
      ['viewer handed control', handed, [1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1]],
      ['control taken back', takenBack, [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]],
    ];
    for (const [who, rights, row] of table) {
      const got = types.map((t) => (mayDo(rights, t) ? 1 : 0));
      expect({ who, got }).toEqual({ who, got: row });
    }
  });

  it('send the session clipboard only to those in control', () => {
    expect([owner, controller, watcher, handed, takenBack].map(receivesClipboard)).toEqual([
      true,
      true,
      false,
      true,
      false,
    ]);
  });

  it('let only the owner hand control over, and never take its own', () => {
    expect(mayHandOver(owner, watcher, true)).toBe(true);
    expect(mayHandOver(owner, controller, false)).toBe(true);
    expect(mayHandOver(owner, owner, false)).toBe(false);
    expect(mayHandOver(controller, watcher, true)).toBe(false);
    expect(mayHandOver(handed, watcher, true)).toBe(false);
    expect(mayHandOver(watcher, watcher, true)).toBe(false);
  });
});

describe('one encode for several viewers', () => {
  it('runs at the bitrate of the slowest link', () => {
    expect(sharedBitrate([], 4000)).toBe(4000);
    expect(sharedBitrate([6000], 4000)).toBe(6000);
    expect(sharedBitrate([6000, 1500, 8000], 4000)).toBe(1500);
  });

  it('sends at most one keyframe per gap, whoever asks', () => {
    expect(keyframeDue(10_000, 0)).toBe(true);
    expect(keyframeDue(10_000, 10_000 - KEYFRAME_GAP_MS + 1)).toBe(false);
    expect(keyframeDue(10_000, 10_000 - KEYFRAME_GAP_MS)).toBe(true);
  });
});
