import { describe, expect, it } from 'vitest';
import { xButton } from '../src/stream/buttons.ts';
import {
  accumulateWheel,
  DOM_DELTA_LINE,
  DOM_DELTA_PAGE,
  DOM_DELTA_PIXEL,
  emptyWheel,
  type WheelDelta,
  type WheelState,
} from '../src/stream/wheel.ts';

function run(events: WheelDelta[]) {
  let state: WheelState = emptyWheel;
  const sent: { dx: number; dy: number }[] = [];
  for (const e of events) {
    const r = accumulateWheel(state, e);
    state = r.state;
    if (r.dx || r.dy) sent.push({ dx: r.dx, dy: r.dy });
  }
  return { state, sent };
}

const px = (deltaY: number, deltaX = 0) => ({ deltaX, deltaY, deltaMode: DOM_DELTA_PIXEL });

describe('accumulateWheel', () => {
  it('turns 100 px into one notch', () => {
    expect(run([px(100)]).sent).toEqual([{ dx: 0, dy: 1 }]);
    expect(run([px(-300)]).sent).toEqual([{ dx: 0, dy: -3 }]);
  });

  it('accumulates small touchpad deltas and keeps the remainder', () => {
    const { sent, state } = run([px(30), px(30), px(30), px(30), px(30)]);
    expect(sent).toEqual([{ dx: 0, dy: 1 }]);
    expect(state.y).toBeCloseTo(0.5);
  });

  it('lets opposite motion cancel the remainder', () => {
    expect(run([px(60), px(-60), px(60)]).sent).toEqual([]);
  });

  it('counts three lines as one notch', () => {
    const line = { deltaX: 0, deltaY: 1, deltaMode: DOM_DELTA_LINE };
    expect(run([line, line]).sent).toEqual([]);
    expect(run([line, line, line]).sent).toEqual([{ dx: 0, dy: 1 }]);
    expect(run([{ deltaX: 0, deltaY: 6, deltaMode: DOM_DELTA_LINE }]).sent).toEqual([
      { dx: 0, dy: 2 },
    ]);
  });

  it('counts a page as one notch', () => {
    expect(run([{ deltaX: 0, deltaY: 1, deltaMode: DOM_DELTA_PAGE }]).sent).toEqual([
      { dx: 0, dy: 1 },
    ]);
  });

  it('scrolls horizontally', () => {
    expect(run([px(0, 250)]).sent).toEqual([{ dx: 2, dy: 0 }]);
  });
});

describe('xButton', () => {
  it('maps browser buttons to X buttons', () => {
    expect([0, 1, 2, 3, 4].map(xButton)).toEqual([1, 2, 3, 8, 9]);
    expect(xButton(5)).toBeNull();
  });
});
