import { describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../src/stream/contract.ts';
import { closeOutcome, MAX_RETRY_MS, MIN_RETRY_MS, retryDelay } from '../src/stream/reconnect.ts';

describe('retryDelay', () => {
  it('doubles from 0.5 s to 8 s', () => {
    expect([1, 2, 3, 4, 5, 6, 10].map((n) => retryDelay(n, 0.5))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000, 8000,
    ]);
  });

  it('jitters by ±20 % within the bounds', () => {
    expect(retryDelay(3, 0)).toBe(1600);
    expect(retryDelay(3, 1)).toBe(2400);
    for (let attempt = 1; attempt < 12; attempt++) {
      for (const r of [0, 0.3, 0.999]) {
        const d = retryDelay(attempt, r);
        expect(d).toBeGreaterThanOrEqual(MIN_RETRY_MS);
        expect(d).toBeLessThanOrEqual(MAX_RETRY_MS);
      }
    }
  });
});

describe('closeOutcome', () => {
  it('retries after an ordinary loss or a streamer restart', () => {
    expect(closeOutcome(1006, null)).toEqual({ retry: true });
    expect(closeOutcome(CLOSE_CODES.goingAway, null)).toEqual({ retry: true });
    expect(closeOutcome(1006, { code: 'negotiation_failed', message: 'x' })).toEqual({
      retry: true,
    });
  });

  it('does not rejoin by itself after the owner removed this viewer', () => {
    expect(closeOutcome(CLOSE_CODES.removed, null)).toMatchObject({
      retry: false,
      message: 'The owner removed you from this session',
    });
    expect(closeOutcome(1000, { code: 'removed', message: 'x' })).toMatchObject({ retry: false });
  });

  it('waits for the user when another viewer is in control', () => {
    expect(closeOutcome(CLOSE_CODES.busy, null)).toMatchObject({
      retry: false,
      message: 'Another viewer is in control',
    });
    expect(closeOutcome(CLOSE_CODES.takenOver, null)).toMatchObject({
      retry: false,
      message: 'You were taken over by another viewer',
    });
    expect(closeOutcome(1006, { code: 'taken_over', message: 'x' })).toMatchObject({
      retry: false,
      message: 'You were taken over by another viewer',
    });
  });

  it('does not loop on errors that a retry cannot fix', () => {
    expect(closeOutcome(CLOSE_CODES.badMessage, null).retry).toBe(false);
    expect(
      closeOutcome(4000, { code: 'no_common_codec', message: 'No common codec' }),
    ).toMatchObject({ retry: false, message: 'No common codec' });
  });
});
