// The idle warning's decisions: how long before a stop viewers are warned, and whether the
// warning shows now (the streamer's timer asks; its answers go to every viewer).
import { describe, expect, it } from 'vitest';
import { idleWarning, warningLead } from '../src/idle-warning.ts';

describe('warningLead', () => {
  it.each([
    // timeout, setting, lead
    [3600, 60, 60], // the setting when it is short of the timeout
    [90, 60, 60],
    [60, 60, 30], // as long as the timeout: half of it, not a warning from the first second
    [60, 300, 30],
    [61, 60, 60],
    [60, 50, 50], // an explicit shorter lead is taken as is
    [60, 0, 0], // 0 turns the warning off
  ])('a %i s timeout with a %i s setting warns %i s before', (timeout, setting, lead) => {
    expect(warningLead(timeout, setting)).toBe(lead);
  });
});

describe('idleWarning', () => {
  const clock = { timeoutSeconds: 60, leadSeconds: 20, startedAtMs: 0, lastInputAtMs: null };
  it.each([
    [
      'no idle timeout',
      { ...clock, timeoutSeconds: null },
      59_000,
      { warn: false, checkInMs: null },
    ],
    ['a lead of 0', { ...clock, leadSeconds: 0 }, 59_000, { warn: false, checkInMs: null }],
    ['nobody touched it, early', clock, 10_000, { warn: false, checkInMs: 30_000 }],
    [
      'nobody touched it, in the window',
      clock,
      40_000,
      { warn: true, secondsLeft: 20, checkInMs: 1000 },
    ],
    [
      'a part second left rounds up',
      clock,
      58_500,
      { warn: true, secondsLeft: 2, checkInMs: 1000 },
    ],
    [
      'overdue: 0 left until the stop lands',
      clock,
      75_000,
      { warn: true, secondsLeft: 0, checkInMs: 1000 },
    ],
    [
      'input (or I am still here) moves the clock',
      { ...clock, lastInputAtMs: 35_000 },
      40_000,
      { warn: false, checkInMs: 35_000 },
    ],
    [
      'input before the start counts from the start',
      { ...clock, startedAtMs: 5_000, lastInputAtMs: 1_000 },
      44_000,
      { warn: false, checkInMs: 1_000 },
    ],
  ] as const)('%s', (_name, c, now, expected) => {
    expect(idleWarning(c, now)).toEqual(expected);
  });
});
