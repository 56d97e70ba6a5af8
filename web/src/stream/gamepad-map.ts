/**
 * The browser's gamepads → the session's pad (docs/gamepads.md): pure functions, polled by
 * gamepads.ts. The browser's "standard" mapping is the Xbox pad's, so each of its buttons has
 * its place in the session's layout (GAMEPAD_BUTTONS' `standard`); its analog triggers (buttons
 * 6 and 7) become the Z and RZ axes and its d-pad (buttons 12–15) the hat, as Linux's xpad
 * reports a real pad. A pad without the standard mapping is read by the same indices.
 */
import {
  GAMEPAD_AXES,
  GAMEPAD_BUTTONS,
  type GamepadState,
  type InputMessage,
} from '@floe/streamer/protocol';

/** What of the browser's Gamepad is read (so tests need no Gamepad object). */
export interface BrowserPad {
  buttons: readonly { pressed: boolean; value: number }[];
  axes: readonly number[];
}

/** Steps of an axis sent: finer than any pad's noise matters, coarse enough to send little. */
const STEPS = 1024;

export const restingState = (): GamepadState => ({
  buttons: GAMEPAD_BUTTONS.map(() => false),
  axes: GAMEPAD_AXES.map(() => 0),
});

const quantize = (v: number, min: number) =>
  Number.isFinite(v) ? Math.max(min, Math.min(1, Math.round(v * STEPS) / STEPS)) : 0;

/** Where each of the session's axes comes from on a standard-mapping pad. */
const AXIS_SOURCES: Record<(typeof GAMEPAD_AXES)[number]['name'], (p: BrowserPad) => number> = {
  ABS_X: (p) => p.axes[0] ?? 0,
  ABS_Y: (p) => p.axes[1] ?? 0,
  ABS_Z: (p) => p.buttons[6]?.value ?? 0,
  ABS_RX: (p) => p.axes[2] ?? 0,
  ABS_RY: (p) => p.axes[3] ?? 0,
  ABS_RZ: (p) => p.buttons[7]?.value ?? 0,
  ABS_HAT0X: (p) => +(p.buttons[15]?.pressed ?? 0) - +(p.buttons[14]?.pressed ?? 0),
  ABS_HAT0Y: (p) => +(p.buttons[13]?.pressed ?? 0) - +(p.buttons[12]?.pressed ?? 0),
};

/** The session's view of a browser pad. */
export function padState(pad: BrowserPad): GamepadState {
  return {
    buttons: GAMEPAD_BUTTONS.map((b) => pad.buttons[b.standard]?.pressed ?? false),
    axes: GAMEPAD_AXES.map((a) =>
      quantize(AXIS_SOURCES[a.name](pad), a.kind === 'trigger' ? 0 : -1),
    ),
  };
}

/** The `gamepad` message from `sent` to `now`, or null when nothing changed. */
export function padChanges(
  pad: number,
  sent: GamepadState,
  now: GamepadState,
): Extract<InputMessage, { t: 'gamepad' }> | null {
  const buttons = now.buttons.flatMap((p, i): [number, boolean][] =>
    p !== sent.buttons[i] ? [[i, p]] : [],
  );
  const axes = now.axes.flatMap((v, i): [number, number][] => (v !== sent.axes[i] ? [[i, v]] : []));
  if (buttons.length === 0 && axes.length === 0) return null;
  return {
    t: 'gamepad',
    pad,
    ...(buttons.length > 0 && { buttons }),
    ...(axes.length > 0 && { axes }),
  };
}
