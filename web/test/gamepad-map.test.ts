// The browser's standard-mapping gamepad → the session's Xbox 360 layout, as a table: every
// button and axis of the browser's pad, alone, and where it lands; then what is sent.
import { GAMEPAD_AXES, GAMEPAD_BUTTONS } from '@floe/streamer/protocol';
import { describe, expect, it } from 'vitest';
import { type BrowserPad, padChanges, padState, restingState } from '../src/stream/gamepad-map.ts';

/** A standard-mapping pad at rest (17 buttons, 4 axes), with `change` applied. */
function pad(change: { button?: [number, number]; axis?: [number, number] }): BrowserPad {
  const buttons = Array.from({ length: 17 }, () => ({ pressed: false, value: 0 }));
  const axes = [0, 0, 0, 0];
  if (change.button) {
    const [i, value] = change.button;
    buttons[i] = { pressed: value > 0.5, value };
  }
  if (change.axis) axes[change.axis[0]] = change.axis[1];
  return { buttons, axes };
}

/** What differs from rest in the session's layout, by name. */
function landed(p: BrowserPad): Record<string, boolean | number> {
  const state = padState(p);
  const out: Record<string, boolean | number> = {};
  state.buttons.forEach((v, i) => {
    if (v) out[GAMEPAD_BUTTONS[i]!.name] = v;
  });
  state.axes.forEach((v, i) => {
    if (v !== 0) out[GAMEPAD_AXES[i]!.name] = v;
  });
  return out;
}

describe('the gamepad map', () => {
  it("puts each of the browser pad's buttons and axes where xpad has them", () => {
    const table: [string, Parameters<typeof pad>[0], Record<string, boolean | number>][] = [
      ['A (bottom)', { button: [0, 1] }, { BTN_A: true }],
      ['B (right)', { button: [1, 1] }, { BTN_B: true }],
      ['X (left)', { button: [2, 1] }, { BTN_X: true }],
      ['Y (top)', { button: [3, 1] }, { BTN_Y: true }],
      ['left bumper', { button: [4, 1] }, { BTN_TL: true }],
      ['right bumper', { button: [5, 1] }, { BTN_TR: true }],
      ['left trigger half', { button: [6, 0.5] }, { ABS_Z: 0.5 }],
      ['right trigger full', { button: [7, 1] }, { ABS_RZ: 1 }],
      ['back', { button: [8, 1] }, { BTN_SELECT: true }],
      ['start', { button: [9, 1] }, { BTN_START: true }],
      ['left stick press', { button: [10, 1] }, { BTN_THUMBL: true }],
      ['right stick press', { button: [11, 1] }, { BTN_THUMBR: true }],
      ['d-pad up', { button: [12, 1] }, { ABS_HAT0Y: -1 }],
      ['d-pad down', { button: [13, 1] }, { ABS_HAT0Y: 1 }],
      ['d-pad left', { button: [14, 1] }, { ABS_HAT0X: -1 }],
      ['d-pad right', { button: [15, 1] }, { ABS_HAT0X: 1 }],
      ['home', { button: [16, 1] }, { BTN_MODE: true }],
      ['left stick left', { axis: [0, -1] }, { ABS_X: -1 }],
      ['left stick down', { axis: [1, 0.25] }, { ABS_Y: 0.25 }],
      ['right stick right', { axis: [2, 0.5] }, { ABS_RX: 0.5 }],
      ['right stick up', { axis: [3, -0.75] }, { ABS_RY: -0.75 }],
      ['noise below a step', { axis: [0, 0.0001] }, {}],
      ['beyond the range', { axis: [0, 1.5] }, { ABS_X: 1 }],
      ['not a number', { axis: [0, Number.NaN] }, {}],
    ];
    for (const [what, change, expected] of table) {
      expect({ what, got: landed(pad(change)) }).toEqual({ what, got: expected });
    }
  });

  it('sends only what changed, and nothing when nothing did', () => {
    const rest = restingState();
    const pressed = padState(pad({ button: [0, 1] }));
    expect(padChanges(2, rest, pressed)).toEqual({ t: 'gamepad', pad: 2, buttons: [[0, true]] });
    expect(padChanges(2, pressed, pressed)).toBeNull();
    const moved = padState(pad({ axis: [1, -0.5] }));
    expect(padChanges(0, pressed, moved)).toEqual({
      t: 'gamepad',
      pad: 0,
      buttons: [[0, false]],
      axes: [[1, -0.5]],
    });
  });
});
