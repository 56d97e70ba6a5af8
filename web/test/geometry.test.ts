import { describe, expect, it } from 'vitest';
import { contentRect, pointerFraction } from '../src/stream/geometry.ts';

describe('contentRect', () => {
  it('fills an element of the same aspect ratio', () => {
    expect(contentRect({ left: 10, top: 20, width: 960, height: 540 }, 1920, 1080)).toEqual({
      left: 10,
      top: 20,
      width: 960,
      height: 540,
    });
  });

  it('letterboxes a wide video in a tall element (bars top and bottom)', () => {
    expect(contentRect({ left: 0, top: 0, width: 800, height: 800 }, 1600, 900)).toEqual({
      left: 0,
      top: 175,
      width: 800,
      height: 450,
    });
  });

  it('pillarboxes a narrow video in a wide element (bars left and right)', () => {
    expect(contentRect({ left: 0, top: 50, width: 1000, height: 400 }, 800, 800)).toEqual({
      left: 300,
      top: 50,
      width: 400,
      height: 400,
    });
  });

  it('has no picture before the first frame', () => {
    expect(contentRect({ left: 0, top: 0, width: 800, height: 600 }, 0, 0)).toBeNull();
  });
});

describe('pointerFraction', () => {
  const element = { left: 0, top: 100, width: 800, height: 800 };

  it('measures against the picture, not the element', () => {
    // 1600×900 in 800×800: picture at top 100+175, 800×450.
    expect(pointerFraction(element, 1600, 900, 0, 275)).toEqual({ x: 0, y: 0 });
    expect(pointerFraction(element, 1600, 900, 800, 725)).toEqual({ x: 1, y: 1 });
    expect(pointerFraction(element, 1600, 900, 400, 500)).toEqual({ x: 0.5, y: 0.5 });
  });

  it('is null on the bars', () => {
    expect(pointerFraction(element, 1600, 900, 400, 200)).toBeNull();
    expect(pointerFraction(element, 1600, 900, 400, 800)).toBeNull();
  });

  it('clamps to the nearest edge when asked', () => {
    expect(pointerFraction(element, 1600, 900, 900, 200, true)).toEqual({ x: 1, y: 0 });
    expect(pointerFraction(element, 1600, 900, -5, 500, true)).toEqual({ x: 0, y: 0.5 });
  });

  it('is null without a frame', () => {
    expect(pointerFraction(element, 0, 0, 400, 500)).toBeNull();
  });
});
