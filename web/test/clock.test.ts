import { describe, expect, it } from 'vitest';
import { clipboardToSend } from '../src/stream/clipboard.ts';
import { clockOffset } from '../src/stream/clock.ts';
import { latencySample } from '../src/stream/latency.ts';

describe('clockOffset', () => {
  it('takes the midpoint of the quickest round trip', () => {
    expect(
      clockOffset([
        { sent: 1000, received: 1100, streamerTime: 6080 }, // slow: 50 ms of queueing one way
        { sent: 2000, received: 2010, streamerTime: 7005 },
        { sent: 3000, received: 3040, streamerTime: 8020 },
      ]),
    ).toBe(5000);
  });

  it('takes one clock when zero is within the round trip’s error (one machine)', () => {
    // werift's data channel can answer 200 ms late one way: a midpoint 100 ms off.
    expect(clockOffset([{ sent: 1000, received: 1213, streamerTime: 1000 }])).toBe(0);
    expect(clockOffset([{ sent: 1000, received: 1010, streamerTime: 1011 }])).toBe(6);
  });

  it('is null without samples and ignores impossible ones', () => {
    expect(clockOffset([])).toBeNull();
    expect(clockOffset([{ sent: 10, received: 5, streamerTime: 0 }])).toBeNull();
  });

  it('puts the painted time on our clock', () => {
    // The streamer's clock runs 5 s ahead: painted at its 10_000 is our 5_000.
    expect(latencySample(5_040, 10_000, 5_000)).toBe(40);
    expect(latencySample(5_040, 10_000)).toBeNull();
  });
});

describe('clipboardToSend', () => {
  it('sends only what the remote does not have yet', () => {
    expect(clipboardToSend('a', null)).toBe('a');
    expect(clipboardToSend('a', 'a')).toBeNull();
    expect(clipboardToSend('', 'a')).toBe('');
    expect(clipboardToSend('x'.repeat(1024 * 1024 + 1), null)).toBeNull();
  });
});
