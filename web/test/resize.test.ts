import { describe, expect, it } from 'vitest';
import { displayScaleFor, displaySizeFor } from '../src/stream/resize.ts';

describe('displaySizeFor', () => {
  it('asks for device pixels', () => {
    expect(displaySizeFor(1280, 720, 1)).toEqual({ width: 1280, height: 720 });
    expect(displaySizeFor(1280, 720, 2)).toEqual({ width: 2560, height: 1440 });
    expect(displaySizeFor(1000, 600, 1.25)).toEqual({ width: 1250, height: 750 });
  });

  it('rounds to even sizes', () => {
    expect(displaySizeFor(1001, 601, 1)).toEqual({ width: 1000, height: 600 });
    expect(displaySizeFor(999.6, 700.4, 1)).toEqual({ width: 1000, height: 700 });
    expect(displaySizeFor(1000, 600, 1.5)).toEqual({ width: 1500, height: 900 });
    expect(displaySizeFor(1001, 601, 1.5)).toEqual({ width: 1502, height: 902 });
  });

  it('stays within the protocol bounds', () => {
    expect(displaySizeFor(100, 50, 1)).toEqual({ width: 320, height: 240 });
    expect(displaySizeFor(5000, 3000, 2)).toEqual({ width: 7680, height: 4320 });
  });

  it('treats a bad devicePixelRatio as 1', () => {
    expect(displaySizeFor(800, 600, 0)).toEqual({ width: 800, height: 600 });
    expect(displaySizeFor(800, 600, Number.NaN)).toEqual({ width: 800, height: 600 });
  });

  it('asks for nothing while the area has no size', () => {
    expect(displaySizeFor(0, 600, 1)).toBeNull();
    expect(displaySizeFor(800, 0, 1)).toBeNull();
  });
});

describe('displayScaleFor', () => {
  it.each([
    [1, 1],
    [2, 2],
    [1.25, 1.25],
    [1.3333333, 1.33],
    [0.1, 0.25],
    [12, 8],
    [0, 1],
    [Number.NaN, 1],
    [Number.POSITIVE_INFINITY, 1],
  ])('devicePixelRatio %d → scale %d', (dpr, scale) => {
    expect(displayScaleFor(dpr)).toBe(scale);
  });
});
