import { describe, expect, it } from 'vitest';
import { MAX_ZOOM, panView, unzoomed, viewTransform, zoomView } from '../src/stream/view.ts';

const stage = { left: 0, top: 40, width: 800, height: 600 };

describe('the page zoom of the picture', () => {
  it.each([
    ['doubles around the stage centre', unzoomed, 2, 400, 340, { scale: 2, x: -400, y: -300 }],
    [
      'keeps the top-left corner still when pinched there',
      unzoomed,
      2,
      0,
      40,
      { scale: 2, x: 0, y: 0 },
    ],
    ['never zooms out past the whole picture', unzoomed, 0.5, 400, 340, unzoomed],
    ['stops at the largest zoom', unzoomed, 100, 0, 40, { scale: MAX_ZOOM, x: 0, y: 0 }],
    ['ignores a factor that is no number', unzoomed, Number.NaN, 0, 0, unzoomed],
    ['ignores a zero factor', unzoomed, 0, 0, 0, unzoomed],
    [
      'keeps the point under the fingers in place when zooming further',
      { scale: 2, x: -400, y: -300 },
      1.5,
      400,
      340,
      { scale: 3, x: -800, y: -600 },
    ],
  ])('%s', (_, view, factor, cx, cy, expected) => {
    expect(zoomView(view, factor, cx, cy, stage)).toEqual(expected);
  });

  it.each([
    ['does not pan an unzoomed view', unzoomed, 50, 50, unzoomed],
    [
      'pans a zoomed view',
      { scale: 2, x: -400, y: -300 },
      100,
      -50,
      { scale: 2, x: -300, y: -350 },
    ],
    [
      'stops at the left and top edges',
      { scale: 2, x: -10, y: -10 },
      100,
      100,
      { scale: 2, x: 0, y: 0 },
    ],
    [
      'stops at the right and bottom edges',
      { scale: 2, x: -790, y: -590 },
      -100,
      -100,
      { scale: 2, x: -800, y: -600 },
    ],
  ])('%s', (_, view, dx, dy, expected) => {
    expect(panView(view, dx, dy, stage)).toEqual(expected);
  });

  it('has no transform when unzoomed, and scales from the top-left corner otherwise', () => {
    expect(viewTransform(unzoomed)).toBe('');
    expect(viewTransform({ scale: 2, x: -400, y: -300 })).toBe(
      'translate(-400px, -300px) scale(2)',
    );
  });
});
