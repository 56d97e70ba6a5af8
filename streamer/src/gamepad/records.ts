/**
 * The pad's state and the records the kernel would give a reader of it: pure functions, the
 * hub (hub.ts) does the I/O. Two readers exist, as on Linux: the joystick API
 * (/dev/input/jsN: struct js_event, 8 bytes) and evdev (/dev/input/eventN: struct
 * input_event, 24 bytes on 64-bit Linux). Values are scaled as the kernel's joydev and xpad
 * scale them; the ranges the evdev reader is told (EVIOCGABS) are in streamer/gamepad/interposer.c.
 */
import {
  GAMEPAD_AXES,
  GAMEPAD_BUTTONS,
  type GamepadState,
  type InputMessage,
} from '../protocol.ts';

export type GamepadMessage = Extract<InputMessage, { t: 'gamepad' }>;

export type PadState = GamepadState;

export const restingPad = (): PadState => ({
  buttons: GAMEPAD_BUTTONS.map(() => false),
  axes: GAMEPAD_AXES.map(() => 0),
});

export interface PadChanges {
  buttons: [number, boolean][];
  axes: [number, number][];
}

/** The pad after `message`, and what of it really changed (repeats are dropped). */
export function applyChanges(
  state: PadState,
  message: Pick<GamepadMessage, 'buttons' | 'axes'>,
): { state: PadState; changed: PadChanges } {
  const next: PadState = { buttons: [...state.buttons], axes: [...state.axes] };
  const changed: PadChanges = { buttons: [], axes: [] };
  for (const [i, pressed] of message.buttons ?? []) {
    if (next.buttons[i] === pressed) continue;
    next.buttons[i] = pressed;
    changed.buttons.push([i, pressed]);
  }
  for (const [i, value] of message.axes ?? []) {
    if (next.axes[i] === value) continue;
    next.axes[i] = value;
    changed.axes.push([i, value]);
  }
  return { state: next, changed };
}

/** The changes that bring `state` back to rest (the viewer in control left). */
export function toRest(state: PadState): Pick<GamepadMessage, 'buttons' | 'axes'> {
  return {
    buttons: state.buttons.flatMap((p, i): [number, boolean][] => (p ? [[i, false]] : [])),
    axes: state.axes.flatMap((v, i): [number, number][] => (v !== 0 ? [[i, 0]] : [])),
  };
}

/** What joydev reports for an axis: -32767..32767 whatever the device's range. */
export function jsAxisValue(axis: number, value: number): number {
  const kind = GAMEPAD_AXES[axis]?.kind;
  const v = kind === 'trigger' ? value * 2 - 1 : kind === 'hat' ? Math.round(value) : value;
  return Math.round(Math.max(-1, Math.min(1, v)) * 32767) + 0; // + 0: never -0
}

/** What xpad reports on evdev: sticks -32768..32767, triggers 0..255, the hat -1, 0 or 1. */
export function evdevAxisValue(axis: number, value: number): number {
  const kind = GAMEPAD_AXES[axis]?.kind;
  if (kind === 'trigger') return Math.round(Math.max(0, Math.min(1, value)) * 255);
  if (kind === 'hat') return Math.round(value) + 0;
  return Math.max(-32768, Math.min(32767, Math.round(value * 32767))) + 0;
}

export const JS_EVENT = { button: 0x01, axis: 0x02, init: 0x80 } as const;
export const JS_EVENT_BYTES = 8;

/** struct js_event { u32 time (ms); s16 value; u8 type; u8 number } for each change. */
export function jsEvents(changed: PadChanges, timeMs: number, init = false): Buffer {
  const out = Buffer.alloc((changed.buttons.length + changed.axes.length) * JS_EVENT_BYTES);
  const flag = init ? JS_EVENT.init : 0;
  let at = 0;
  const put = (value: number, type: number, number: number) => {
    out.writeUInt32LE(timeMs >>> 0, at);
    out.writeInt16LE(value, at + 4);
    out.writeUInt8(type | flag, at + 6);
    out.writeUInt8(number, at + 7);
    at += JS_EVENT_BYTES;
  };
  for (const [i, pressed] of changed.buttons) put(pressed ? 1 : 0, JS_EVENT.button, i);
  for (const [i, value] of changed.axes) put(jsAxisValue(i, value), JS_EVENT.axis, i);
  return out;
}

/** A pad's whole state as the burst joydev sends a reader that just opened it. */
export const jsInitEvents = (state: PadState, timeMs: number): Buffer =>
  jsEvents(
    {
      buttons: state.buttons.map((p, i): [number, boolean] => [i, p]),
      axes: state.axes.map((v, i): [number, number] => [i, v]),
    },
    timeMs,
    true,
  );

export const EV = { syn: 0x00, key: 0x01, abs: 0x03, ff: 0x15 } as const;
export const INPUT_EVENT_BYTES = 24;

export interface InputEvent {
  sec: number;
  usec: number;
  type: number;
  code: number;
  value: number;
}

/** struct input_event { timeval (2 × s64); u16 type; u16 code; s32 value }. */
export function encodeInputEvent(e: InputEvent): Buffer {
  const out = Buffer.alloc(INPUT_EVENT_BYTES);
  out.writeBigInt64LE(BigInt(e.sec), 0);
  out.writeBigInt64LE(BigInt(e.usec), 8);
  out.writeUInt16LE(e.type, 16);
  out.writeUInt16LE(e.code, 18);
  out.writeInt32LE(e.value, 20);
  return out;
}

export function decodeInputEvent(buf: Buffer, at = 0): InputEvent {
  return {
    sec: Number(buf.readBigInt64LE(at)),
    usec: Number(buf.readBigInt64LE(at + 8)),
    type: buf.readUInt16LE(at + 16),
    code: buf.readUInt16LE(at + 18),
    value: buf.readInt32LE(at + 20),
  };
}

/** The evdev records of the changes, closed by a SYN_REPORT (none when nothing changed). */
export function evdevEvents(changed: PadChanges, timeMs: number): Buffer {
  if (changed.buttons.length + changed.axes.length === 0) return Buffer.alloc(0);
  const sec = Math.floor(timeMs / 1000);
  const usec = Math.round((timeMs % 1000) * 1000);
  const at = { sec, usec };
  return Buffer.concat([
    ...changed.buttons.map(([i, pressed]) =>
      encodeInputEvent({ ...at, type: EV.key, code: GAMEPAD_BUTTONS[i]!.code, value: +pressed }),
    ),
    ...changed.axes.map(([i, value]) =>
      encodeInputEvent({
        ...at,
        type: EV.abs,
        code: GAMEPAD_AXES[i]!.code,
        value: evdevAxisValue(i, value),
      }),
    ),
    encodeInputEvent({ ...at, type: EV.syn, code: 0, value: 0 }),
  ]);
}

/**
 * What an app's evdev reader writes back: rumble. The interposer tells an effect's upload and
 * removal as records of type FF_RECORD (magnitudes and length packed in the time fields, see
 * interposer.c); the app plays one by writing EV_FF with its id (value: repeat count, 0 stops).
 */
export const FF_RECORD = { type: 0x0101, upload: 1, erase: 2 } as const;

export interface Rumble {
  strong: number;
  weak: number;
  duration: number;
}

/** Per reader: its uploaded effects, and what a record it wrote asks for. */
export function rumbleOf(
  effects: Map<number, Rumble>,
  e: InputEvent,
): { effects: Map<number, Rumble>; play?: Rumble } {
  if (e.type === FF_RECORD.type && e.code === FF_RECORD.upload) {
    const next = new Map(effects);
    // what the interposer packs is 16 bits each; anything else a program wrote is cut to that
    const packed = Math.max(0, Math.min(0xffff_ffff, e.sec));
    next.set(e.value, {
      strong: Math.floor(packed / 65536) / 65535,
      weak: (packed % 65536) / 65535,
      duration: Math.max(0, Math.min(0xffff, e.usec)),
    });
    return { effects: next };
  }
  if (e.type === FF_RECORD.type && e.code === FF_RECORD.erase) {
    const next = new Map(effects);
    next.delete(e.value);
    return { effects: next };
  }
  if (e.type === EV.ff) {
    const effect = effects.get(e.code);
    if (!effect) return { effects };
    return { effects, play: e.value > 0 ? effect : { strong: 0, weak: 0, duration: 0 } };
  }
  return { effects };
}
