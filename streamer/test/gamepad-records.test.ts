// The pure half of the gamepad hub (gamepad/records.ts): which changes are real, how values are
// scaled for the joystick API and for evdev, and what a reader's writes ask of rumble.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyChanges,
  decodeInputEvent,
  EV,
  encodeInputEvent,
  evdevAxisValue,
  evdevEvents,
  FF_RECORD,
  jsAxisValue,
  jsEvents,
  restingPad,
  rumbleOf,
  toRest,
} from '../src/gamepad/records.ts';
import { GAMEPAD_AXES, GAMEPAD_BUTTONS } from '../src/protocol.ts';

// axes by index: 0 ABS_X (stick), 2 ABS_Z (trigger), 6 ABS_HAT0X (hat)
describe('gamepad values', () => {
  it('scale as joydev and xpad do', () => {
    const table: [axis: number, wire: number, js: number, evdev: number][] = [
      [0, -1, -32767, -32767],
      [0, 0, 0, 0],
      [0, 1, 32767, 32767],
      [0, 0.5, 16384, 16384],
      [2, 0, -32767, 0],
      [2, 0.5, 0, 128],
      [2, 1, 32767, 255],
      [6, -1, -32767, -1],
      [6, 0.4, 0, 0],
      [6, 1, 32767, 1],
    ];
    for (const [axis, wire, js, evdev] of table) {
      expect({
        axis,
        wire,
        js: jsAxisValue(axis, wire),
        evdev: evdevAxisValue(axis, wire),
      }).toEqual({ axis, wire, js, evdev });
    }
  });

  it('keep only what changed, and come back to rest', () => {
    const first = applyChanges(restingPad(), {
      buttons: [
        [0, true],
        [1, false],
      ],
      axes: [[3, 0.25]],
    });
    expect(first.changed).toEqual({ buttons: [[0, true]], axes: [[3, 0.25]] });
    const again = applyChanges(first.state, { buttons: [[0, true]], axes: [[3, 0.25]] });
    expect(again.changed).toEqual({ buttons: [], axes: [] });
    expect(toRest(first.state)).toEqual({ buttons: [[0, false]], axes: [[3, 0]] });
  });
});

describe('gamepad records', () => {
  it('are js_event and input_event as the kernel lays them out', () => {
    const js = jsEvents({ buttons: [[4, true]], axes: [[1, -1]] }, 1234);
    expect([...js]).toEqual([
      ...[0xd2, 0x04, 0, 0, 1, 0, 0x01, 4],
      ...[0xd2, 0x04, 0, 0, 0x01, 0x80, 0x02, 1],
    ]);
    const ev = evdevEvents({ buttons: [[4, true]], axes: [] }, 2500.5);
    expect(ev.length).toBe(48);
    expect(decodeInputEvent(ev, 0)).toEqual({
      sec: 2,
      usec: 500_500,
      type: EV.key,
      code: 0x136,
      value: 1,
    });
    expect(decodeInputEvent(ev, 24)).toEqual({
      sec: 2,
      usec: 500_500,
      type: EV.syn,
      code: 0,
      value: 0,
    });
    expect(evdevEvents({ buttons: [], axes: [] }, 0).length).toBe(0);
  });

  it('carry rumble: an upload, its play, its stop and its erase', () => {
    const upload = {
      sec: 65535 * 65536,
      usec: 300,
      type: FF_RECORD.type,
      code: FF_RECORD.upload,
      value: 3,
    };
    let { effects, play } = rumbleOf(new Map(), decodeInputEvent(encodeInputEvent(upload)));
    expect(play).toBeUndefined();
    const at = { sec: 0, usec: 0 };
    expect(rumbleOf(effects, { ...at, type: EV.ff, code: 3, value: 1 }).play).toEqual({
      strong: 1,
      weak: 0,
      duration: 300,
    });
    expect(rumbleOf(effects, { ...at, type: EV.ff, code: 3, value: 0 }).play).toEqual({
      strong: 0,
      weak: 0,
      duration: 0,
    });
    // a program writing its own records gets the interposer's bounds: 16 bits each
    const wild = { sec: -5, usec: 1e12, type: FF_RECORD.type, code: FF_RECORD.upload, value: 4 };
    const bounded = rumbleOf(effects, wild).effects;
    expect(rumbleOf(bounded, { ...at, type: EV.ff, code: 4, value: 1 }).play).toEqual({
      strong: 0,
      weak: 0,
      duration: 0xffff,
    });
    ({ effects } = rumbleOf(effects, {
      ...at,
      type: FF_RECORD.type,
      code: FF_RECORD.erase,
      value: 3,
    }));
    expect(rumbleOf(effects, { ...at, type: EV.ff, code: 3, value: 1 }).play).toBeUndefined();
  });
});

describe('any run of accepted gamepad changes', () => {
  const change = fc.record({
    buttons: fc.array(
      fc.tuple(fc.integer({ min: 0, max: GAMEPAD_BUTTONS.length - 1 }), fc.boolean()),
      { maxLength: GAMEPAD_BUTTONS.length },
    ),
    axes: fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: GAMEPAD_AXES.length - 1 }),
        fc.double({ min: -1, max: 1, noNaN: true }),
      ),
      { maxLength: GAMEPAD_AXES.length },
    ),
  });

  it('gives whole records of the layout, in range, and the last value of each', () => {
    fc.assert(
      fc.property(fc.array(change, { maxLength: 20 }), (changes) => {
        let state = restingPad();
        const last = new Map<string, number>();
        for (const c of changes) {
          const result = applyChanges(state, c);
          state = result.state;
          const js = jsEvents(result.changed, 0);
          const ev = evdevEvents(result.changed, 0);
          const count = result.changed.buttons.length + result.changed.axes.length;
          expect(js.length).toBe(count * 8);
          expect(ev.length).toBe(count === 0 ? 0 : (count + 1) * 24);
          for (let at = 0; at < js.length; at += 8) {
            const type = js.readUInt8(at + 6);
            const number = js.readUInt8(at + 7);
            const value = js.readInt16LE(at + 4);
            expect(number).toBeLessThan(type === 1 ? GAMEPAD_BUTTONS.length : GAMEPAD_AXES.length);
            expect(Math.abs(value)).toBeLessThanOrEqual(32767);
            last.set(`${type}:${number}`, value);
          }
        }
        // what a reader saw last of each is the state's value
        for (const [key, value] of last) {
          const [type, number] = key.split(':').map(Number) as [number, number];
          const want =
            type === 1 ? +state.buttons[number]! : jsAxisValue(number, state.axes[number]!);
          expect(value).toBe(want);
        }
      }),
      { numRuns: 300 },
    );
  });
});
