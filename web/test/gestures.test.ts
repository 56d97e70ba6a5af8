import { describe, expect, it } from 'vitest';
import {
  type GestureAction,
  type GestureEvent,
  initialGesture,
  LONG_PRESS_MS,
  stepGesture,
  type TouchMode,
  withMode,
} from '../src/stream/gestures.ts';

/** Runs events through the machine from idle; the actions in order, and the final phase. */
function run(mode: TouchMode, events: GestureEvent[]) {
  let state = initialGesture(mode);
  const actions: GestureAction[] = [];
  for (const e of events) {
    const step = stepGesture(state, e);
    state = step.state;
    actions.push(...step.actions);
  }
  return { actions, phase: state.phase, touches: state.touches.length };
}

const down = (id: number, x: number, y: number, t: number): GestureEvent => ({
  type: 'down',
  id,
  x,
  y,
  t,
});
const move = (id: number, x: number, y: number, t: number): GestureEvent => ({
  type: 'move',
  id,
  x,
  y,
  t,
});
const up = (id: number, t: number): GestureEvent => ({ type: 'up', id, t });
const tick = (t: number): GestureEvent => ({ type: 'tick', t });

const b = (button: 1 | 3, isDown: boolean): GestureAction => ({
  kind: 'button',
  button,
  down: isDown,
});
const point = (x: number, y: number): GestureAction => ({ kind: 'point', x, y });

describe('touch gestures', () => {
  const cases: {
    name: string;
    mode: TouchMode;
    events: GestureEvent[];
    actions: GestureAction[];
  }[] = [
    {
      name: 'a tap clicks where the finger was (direct)',
      mode: 'direct',
      events: [down(1, 100, 50, 0), up(1, 80)],
      actions: [point(100, 50), b(1, true), b(1, false)],
    },
    {
      name: 'a tap that wobbles within the slop is still a tap',
      mode: 'direct',
      events: [down(1, 100, 50, 0), move(1, 106, 55, 30), up(1, 80)],
      actions: [point(100, 50), b(1, true), b(1, false)],
    },
    {
      name: 'a tap clicks where the pointer is (trackpad)',
      mode: 'trackpad',
      events: [down(1, 100, 50, 0), up(1, 80)],
      actions: [b(1, true), b(1, false)],
    },
    {
      name: 'a long press right-clicks once the timer fires, and the lift does nothing more',
      mode: 'direct',
      events: [down(1, 10, 20, 0), tick(LONG_PRESS_MS - 1), tick(LONG_PRESS_MS), up(1, 900)],
      actions: [point(10, 20), b(3, true), b(3, false)],
    },
    {
      name: 'a long press lifted before a late timer still right-clicks',
      mode: 'direct',
      events: [down(1, 10, 20, 0), up(1, LONG_PRESS_MS + 20)],
      actions: [point(10, 20), b(3, true), b(3, false)],
    },
    {
      name: 'a long press in trackpad mode right-clicks where the pointer is',
      mode: 'trackpad',
      events: [down(1, 10, 20, 0), tick(600), up(1, 700)],
      actions: [b(3, true), b(3, false)],
    },
    {
      name: 'a one-finger drag holds the left button from where it started (direct)',
      mode: 'direct',
      events: [down(1, 0, 0, 0), move(1, 20, 0, 50), move(1, 40, 10, 60), up(1, 70)],
      actions: [point(0, 0), b(1, true), point(20, 0), point(40, 10), b(1, false)],
    },
    {
      name: 'a one-finger move moves the pointer by as much (trackpad), no button',
      mode: 'trackpad',
      events: [down(1, 0, 0, 0), move(1, 20, 0, 50), move(1, 25, -5, 60), up(1, 70)],
      actions: [
        { kind: 'rel', dx: 20, dy: 0 },
        { kind: 'rel', dx: 5, dy: -5 },
      ],
    },
    {
      name: 'a tap and then a finger that moves drags with the left button held (trackpad)',
      mode: 'trackpad',
      events: [
        down(1, 0, 0, 0),
        up(1, 80),
        down(2, 0, 0, 250),
        move(2, 30, 0, 300),
        move(2, 40, 10, 320),
        up(2, 400),
      ],
      actions: [
        b(1, true),
        b(1, false),
        b(1, true),
        { kind: 'rel', dx: 30, dy: 0 },
        { kind: 'rel', dx: 10, dy: 10 },
        b(1, false),
      ],
    },
    {
      name: 'a finger long after a tap only moves the pointer (trackpad)',
      mode: 'trackpad',
      events: [down(1, 0, 0, 0), up(1, 80), down(2, 0, 0, 500), move(2, 30, 0, 550), up(2, 600)],
      actions: [b(1, true), b(1, false), { kind: 'rel', dx: 30, dy: 0 }],
    },
    {
      name: 'two quick taps double-click (trackpad)',
      mode: 'trackpad',
      events: [down(1, 0, 0, 0), up(1, 80), down(2, 0, 0, 200), up(2, 260)],
      actions: [b(1, true), b(1, false), b(1, true), b(1, false)],
    },
    {
      name: 'a tap and then a finger held still holds the button, not a right-click (trackpad)',
      mode: 'trackpad',
      events: [
        down(1, 0, 0, 0),
        up(1, 80),
        down(2, 0, 0, 200),
        tick(700),
        move(2, 0, 30, 800),
        up(2, 900),
      ],
      actions: [b(1, true), b(1, false), b(1, true), { kind: 'rel', dx: 0, dy: 30 }, b(1, false)],
    },
    {
      name: 'a tap and a quick drag are a tap and an ordinary drag (direct)',
      mode: 'direct',
      events: [down(1, 0, 0, 0), up(1, 80), down(2, 100, 0, 200), move(2, 130, 0, 250), up(2, 300)],
      actions: [
        point(0, 0),
        b(1, true),
        b(1, false),
        point(100, 0),
        b(1, true),
        point(130, 0),
        b(1, false),
      ],
    },
    {
      name: 'a drag is not a long press, however long it lasts',
      mode: 'direct',
      events: [down(1, 0, 0, 0), move(1, 30, 0, 50), tick(600), up(1, 900)],
      actions: [point(0, 0), b(1, true), point(30, 0), b(1, false)],
    },
    {
      name: 'two fingers moving up together scroll down, a notch per 40 px',
      mode: 'direct',
      events: [
        down(1, 100, 300, 0),
        down(2, 200, 300, 10),
        move(1, 100, 260, 50),
        move(2, 200, 260, 50),
        move(1, 100, 180, 90),
        move(2, 200, 180, 90),
        up(1, 120),
        up(2, 130),
      ],
      // centroid: 300 → 280 (decides scroll: ½ notch) → 260 (1) → 220 (2) → 180 (3)
      actions: [
        { kind: 'wheel', dx: 0, dy: 1 },
        { kind: 'wheel', dx: 0, dy: 1 },
        { kind: 'wheel', dx: 0, dy: 1 },
      ],
    },
    {
      name: 'two fingers moving right scroll left',
      mode: 'trackpad',
      events: [down(1, 0, 0, 0), down(2, 0, 100, 5), move(1, 80, 0, 50), move(2, 80, 100, 60)],
      actions: [
        { kind: 'wheel', dx: -1, dy: 0 },
        { kind: 'wheel', dx: -1, dy: 0 },
      ],
    },
    {
      name: 'two fingers moving apart zoom the view around their midpoint, and pan with it',
      mode: 'direct',
      events: [down(1, 100, 100, 0), down(2, 200, 100, 5), move(2, 300, 100, 50)],
      actions: [
        { kind: 'zoom', factor: 2, x: 200, y: 100 },
        { kind: 'pan', dx: 50, dy: 0 },
      ],
    },
    {
      name: 'a quick two-finger tap right-clicks at the midpoint (direct)',
      mode: 'direct',
      events: [down(1, 100, 100, 0), down(2, 140, 100, 20), up(1, 100), up(2, 110)],
      actions: [point(120, 100), b(3, true), b(3, false)],
    },
    {
      name: 'a quick two-finger tap right-clicks where the pointer is (trackpad)',
      mode: 'trackpad',
      events: [down(1, 100, 100, 0), down(2, 140, 100, 20), up(2, 100), up(1, 110)],
      actions: [b(3, true), b(3, false)],
    },
    {
      name: 'two fingers held still and lifted slowly do nothing',
      mode: 'direct',
      events: [down(1, 100, 100, 0), down(2, 140, 100, 20), up(1, 600), up(2, 610)],
      actions: [],
    },
    {
      name: 'the finger left after a scroll does not drag or tap',
      mode: 'direct',
      events: [
        down(1, 0, 100, 0),
        down(2, 100, 100, 5),
        move(1, 0, 50, 50),
        move(2, 100, 50, 50),
        up(2, 60),
        move(1, 0, 0, 70),
        up(1, 80),
      ],
      actions: [{ kind: 'wheel', dx: 0, dy: 1 }],
    },
    {
      name: 'a third finger ends a two-finger gesture',
      mode: 'direct',
      events: [
        down(1, 0, 0, 0),
        down(2, 100, 0, 5),
        down(3, 50, 50, 10),
        move(1, 0, 100, 50),
        move(2, 100, 100, 50),
        up(1, 60),
        up(2, 60),
        up(3, 60),
      ],
      actions: [],
    },
    {
      name: 'a second finger during a drag is ignored; the drag ends with its own finger',
      mode: 'direct',
      events: [
        down(1, 0, 0, 0),
        move(1, 50, 0, 20),
        down(2, 300, 300, 30),
        move(2, 310, 300, 40),
        up(2, 50),
        move(1, 60, 0, 60),
        up(1, 70),
      ],
      actions: [point(0, 0), b(1, true), point(50, 0), point(60, 0), b(1, false)],
    },
    {
      name: 'a cancelled drag releases the left button',
      mode: 'direct',
      events: [down(1, 0, 0, 0), move(1, 50, 0, 20), { type: 'cancel', t: 30 }],
      actions: [point(0, 0), b(1, true), point(50, 0), b(1, false)],
    },
    {
      name: 'moves and lifts of fingers never seen are ignored',
      mode: 'direct',
      events: [move(9, 1, 1, 0), up(9, 1), tick(1000)],
      actions: [],
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const result = run(c.mode, c.events);
      expect(result.actions).toEqual(c.actions);
    });
  }

  it('comes back to idle with no finger down after every gesture', () => {
    for (const c of cases.filter((c) => c.events.at(-1)?.type === 'up')) {
      const result = run(c.mode, c.events);
      expect({ name: c.name, phase: result.phase, touches: result.touches }).toEqual({
        name: c.name,
        phase: 'idle',
        touches: 0,
      });
    }
  });

  it('switching mode mid-gesture waits for the fingers to lift', () => {
    let state = stepGesture(initialGesture('direct'), down(1, 0, 0, 0)).state;
    state = withMode(state, 'trackpad');
    expect(state.mode).toBe('trackpad');
    const lifted = stepGesture(state, up(1, 50));
    expect(lifted.actions).toEqual([]);
    expect(lifted.state.phase).toBe('idle');
  });
});
