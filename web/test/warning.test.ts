// The shutdown warning's decisions: which stop the banner warns of, when, and what it says.
import { describe, expect, it } from 'vitest';
import { clockText, lifetimeOf, warningView } from '../src/stream/warning.ts';

describe('warningView', () => {
  const none = { idleStopAtMs: null, lifetime: null, leadSeconds: 60 };
  const life = (endsAtMs: number, seconds = 3600) => ({ seconds, endsAtMs });
  it.each([
    ['nothing to warn of', none, { show: false }],
    ['a lifetime far off', { ...none, lifetime: life(61_000) }, { show: false }],
    [
      'a lifetime within the lead',
      { ...none, lifetime: life(60_000) },
      { show: true, cause: 'lifetime', secondsLeft: 60, canReset: false },
    ],
    // a 60 s lifetime with a 60 s lead warns for its second half only (warningLead)
    ['a short lifetime, early', { ...none, lifetime: life(45_000, 60) }, { show: false }],
    [
      'a short lifetime, late',
      { ...none, lifetime: life(30_000, 60) },
      { show: true, cause: 'lifetime', secondsLeft: 30 },
    ],
    [
      'an idle warning',
      { ...none, idleStopAtMs: 42_000 },
      { show: true, cause: 'idle', secondsLeft: 42, canReset: true },
    ],
    [
      'idle sooner than the lifetime',
      { ...none, idleStopAtMs: 10_000, lifetime: life(50_000) },
      { show: true, cause: 'idle' },
    ],
    [
      'the lifetime sooner: the button would not help',
      { ...none, idleStopAtMs: 50_000, lifetime: life(10_000) },
      { show: true, cause: 'lifetime', canReset: false },
    ],
    [
      'overdue idle stop',
      { ...none, idleStopAtMs: -5_000 },
      { show: true, cause: 'idle', secondsLeft: 0 },
    ],
    [
      'lead 0: no lifetime warning',
      { ...none, leadSeconds: 0, lifetime: life(1_000) },
      { show: false },
    ],
  ] as const)('%s', (_name, clocks, expected) => {
    expect(warningView(clocks, 0)).toMatchObject(expected);
  });

  it('counts down in words, and says the lifetime cannot be extended', () => {
    const idle = warningView({ idleStopAtMs: 75_000, lifetime: null, leadSeconds: 60 }, 0);
    expect(idle.show && idle.text).toBe(
      'Nobody has used this session for a while: it shuts down in 1:15.',
    );
    const end = warningView(
      { idleStopAtMs: null, lifetime: { seconds: 600, endsAtMs: 9_500 }, leadSeconds: 60 },
      0,
    );
    expect(end.show && end.text).toBe(
      'This session reaches its maximum lifetime and shuts down in 0:10. It cannot be extended: save your work.',
    );
  });
});

describe('clockText', () => {
  it.each([
    [0, '0:00'],
    [9.2, '0:10'],
    [60, '1:00'],
    [3601, '60:01'],
    [-3, '0:00'],
  ])('%d s is %s', (seconds, text) => expect(clockText(seconds)).toBe(text));
});

describe('lifetimeOf', () => {
  it.each([
    [
      { state: 'running', lifetime: { seconds: 600, leftSeconds: 30 } },
      { seconds: 600, endsAtMs: 1_030_000 },
    ],
    [
      { state: 'running', lifetime: { seconds: 600, leftSeconds: -4 } },
      { seconds: 600, endsAtMs: 1_000_000 },
    ],
    [{ state: 'running', lifetime: null }, null],
    [{ state: 'running' }, null], // a gateway from before lifetimes were told
    [{ lifetime: { seconds: 'x', leftSeconds: 1 } }, null],
    [{ lifetime: { seconds: 0, leftSeconds: 1 } }, null],
    [null, null],
    ['text', null],
  ])('%j', (body, expected) => expect(lifetimeOf(body, 1_000_000)).toEqual(expected));
});
