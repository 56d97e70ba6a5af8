// The local runner's decisions about the processes it finds at start, and idle shutdown.
import { describe, expect, it } from 'vitest';
import {
  chooseRoot,
  idleVerdict,
  type MarkedProcess,
  orphanRoots,
  sessionRoots,
} from '../../src/domain/local-processes.ts';

const p = (
  pid: number,
  ppid: number,
  sessionId: string,
  startTime = String(pid),
  runner: string | null = 'r1',
): MarkedProcess => ({
  pid,
  ppid,
  startTime,
  sessionId,
  runner,
});

describe('sessionRoots', () => {
  it('takes a marked process whose parent is not of the same session as a root', () => {
    const roots = sessionRoots([
      p(10, 1, 'a'), // the runner, reparented to init
      p(11, 10, 'a'), // its app
      p(12, 11, 'a'),
      p(20, 1, 'a'), // a twin
      p(30, 1, 'b'),
      p(31, 30, 'c'), // another session under b (never, but counted as its own root)
    ]);
    expect(roots.get('a')?.map((x) => x.pid)).toEqual([10, 20]);
    expect(roots.get('b')?.map((x) => x.pid)).toEqual([30]);
    expect(roots.get('c')?.map((x) => x.pid)).toEqual([31]);
  });
});

describe('chooseRoot', () => {
  it.each([
    { name: 'none', roots: [], ref: null, keep: null, kill: [] },
    { name: 'the only one', roots: [p(10, 1, 'a')], ref: null, keep: 10, kill: [] },
    {
      name: 'the oldest without a ref',
      roots: [p(20, 1, 'a', '900'), p(10, 1, 'a', '100')],
      ref: null,
      keep: 10,
      kill: [20],
    },
    {
      name: 'the one the ref names',
      roots: [p(10, 1, 'a', '100'), p(20, 1, 'a', '900')],
      ref: { pid: 20, startTime: '900' },
      keep: 20,
      kill: [10],
    },
    {
      name: 'the oldest when the ref names a recycled pid',
      roots: [p(10, 1, 'a', '100'), p(20, 1, 'a', '900')],
      ref: { pid: 20, startTime: '5' },
      keep: 10,
      kill: [20],
    },
  ])('keeps $name and kills the twins', ({ roots, ref, keep, kill }) => {
    const chosen = chooseRoot(roots, ref);
    expect(chosen.keep?.pid ?? null).toBe(keep);
    expect(chosen.kill.map((x) => x.pid)).toEqual(kill);
  });
});

describe('orphanRoots', () => {
  it("kills this runner's roots of sessions it does not supervise, and nobody else's", () => {
    const roots = sessionRoots([
      p(10, 1, 'adopted'),
      p(20, 1, 'failed-in-db'),
      p(30, 1, 'other-runner', '30', 'r2'),
      p(40, 1, 'unmarked', '40', null),
    ]);
    const orphans = orphanRoots(roots, 'r1', (id) => id === 'adopted');
    expect(orphans.map((x) => x.pid)).toEqual([20]);
  });
});

describe('idleVerdict', () => {
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  it.each([
    { name: 'no timeout', timeout: null, last: null, now: t0 + 1e9, stop: false },
    { name: 'streamer unknown', timeout: 60, last: undefined, now: t0 + 1e9, stop: false },
    { name: 'no input, not yet', timeout: 60, last: null, now: t0 + 59_999, stop: false },
    { name: 'no input since running', timeout: 60, last: null, now: t0 + 60_000, stop: true },
    {
      name: 'recent input',
      timeout: 60,
      last: new Date(t0 + 30_000),
      now: t0 + 60_000,
      stop: false,
    },
    { name: 'old input', timeout: 60, last: new Date(t0 + 30_000), now: t0 + 90_000, stop: true },
    {
      name: 'input before it ran',
      timeout: 60,
      last: new Date(t0 - 500_000),
      now: t0 + 10_000,
      stop: false,
    },
    // "I'm still here" may come between an answer and the deadline: only a later answer counts
    {
      name: 'an answer from before the deadline',
      timeout: 60,
      last: new Date(t0 + 30_000),
      asked: t0 + 80_000,
      now: t0 + 95_000,
      stop: false,
    },
    {
      name: 'an answer from after the deadline',
      timeout: 60,
      last: new Date(t0 + 30_000),
      asked: t0 + 90_000,
      now: t0 + 95_000,
      stop: true,
    },
    {
      name: 'no input, asked early',
      timeout: 60,
      last: null,
      asked: t0 + 59_000,
      now: t0 + 70_000,
      stop: false,
    },
    {
      name: 'no input, asked late',
      timeout: 60,
      last: null,
      asked: t0 + 60_000,
      now: t0 + 70_000,
      stop: true,
    },
  ])('$name → stop: $stop', ({ timeout, last, now, stop, ...rest }) => {
    const asked = 'asked' in rest ? rest.asked : undefined;
    const verdict = idleVerdict({
      idleTimeoutSeconds: timeout,
      runningSinceMs: t0,
      lastInput: last,
      ...(asked !== undefined && { askedAtMs: asked }),
      nowMs: now,
    });
    expect(verdict.stop).toBe(stop);
    if (verdict.stop) expect(verdict.reason).toMatch(/^idle: no input for 60s$/);
  });
});
