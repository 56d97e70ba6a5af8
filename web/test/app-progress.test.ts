import { describe, expect, it } from 'vitest';
import {
  failedFrom,
  isLaunching,
  launchProgress,
  stateLabel,
  tellEnded,
} from '../src/app/progress.ts';
import { isActive, SESSION_STATES } from '../src/app/types.ts';

const statuses = (
  state: Parameters<typeof launchProgress>[0],
  ...rest: [(string | null)?, Parameters<typeof launchProgress>[2]?]
) => launchProgress(state, ...rest).steps.map((s) => s.status);

describe('launchProgress', () => {
  it('walks placed → starting → streamer ready', () => {
    expect(statuses('requested')).toEqual(['current', 'todo', 'todo']);
    expect(statuses('placed')).toEqual(['done', 'current', 'todo']);
    expect(statuses('starting')).toEqual(['done', 'current', 'todo']);
    expect(statuses('running')).toEqual(['done', 'done', 'done']);
    expect(launchProgress('requested').steps.map((s) => s.label)).toEqual([
      'Placed on a cluster',
      'Starting the app',
      'Streamer ready',
    ]);
  });

  it('is ready to open once running; stopping and stopped are their own phases', () => {
    expect(launchProgress('requested').phase).toBe('launching');
    expect(launchProgress('starting').phase).toBe('launching');
    expect(launchProgress('running')).toMatchObject({
      phase: 'ready',
      message: 'Ready — open it to start streaming',
    });
    expect(launchProgress('stopping')).toMatchObject({
      phase: 'stopping',
      message: 'Shutting down…',
    });
    expect(launchProgress('stopped').phase).toBe('ended');
  });

  it('marks the step a launch failed on, with the reason', () => {
    const atStart = launchProgress('failed', 'image pull failed.', 'starting');
    expect(atStart.steps.map((s) => s.status)).toEqual(['done', 'failed', 'todo']);
    expect(atStart.message).toBe('The launch failed: image pull failed.');
    expect(statuses('failed', null, 'requested')).toEqual(['failed', 'todo', 'todo']);
    expect(launchProgress('failed', null, null).message).toBe('The launch failed.');
  });

  it('tells an app that ended by itself apart from a failed launch', () => {
    const crash = launchProgress('failed', 'exit code 139', 'running');
    expect(crash.message).toBe('The app stopped unexpectedly: exit code 139.');
    expect(crash.steps.every((s) => s.status === 'done')).toBe(true);
  });
});

describe('failedFrom', () => {
  it('prefers the events, then the last state seen', () => {
    const events = [
      { from: null, to: 'requested' as const, reason: null, at: '' },
      { from: 'requested' as const, to: 'placed' as const, reason: null, at: '' },
      { from: 'placed' as const, to: 'failed' as const, reason: 'no node', at: '' },
    ];
    expect(failedFrom(events, 'starting')).toBe('placed');
    expect(failedFrom(undefined, 'starting')).toBe('starting');
    expect(failedFrom(undefined, null)).toBeNull();
  });
});

describe('states', () => {
  it('label every state and sort active from launching', () => {
    for (const s of SESSION_STATES) expect(stateLabel(s)).toMatch(/^[A-Z]/);
    expect(SESSION_STATES.filter(isActive)).toEqual([
      'requested',
      'placed',
      'starting',
      'running',
      'unknown',
      'stopping',
    ]);
    expect(SESSION_STATES.filter(isLaunching)).toEqual(['requested', 'placed', 'starting']);
  });
});

describe('tellEnded', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');
  const s = {
    id: 's1',
    state: 'stopped' as const,
    reason: 'idle: no input for 60s',
    updatedAt: '2026-01-01T11:50:00Z',
  };
  const none = { dismissed: new Set<string>(), stoppedHere: new Set<string>() };
  it.each([
    ['an idle stop ten minutes ago', s, none, true],
    ['its maximum lifetime', { ...s, reason: 'maximum lifetime reached' }, none, true],
    ['an admin', { ...s, reason: 'stopped by an admin' }, none, true],
    ['the app exited', { ...s, reason: 'the app exited' }, none, true],
    ['the user shut it down (anywhere)', { ...s, reason: 'stopped by its user' }, none, false],
    ['this launcher shut it down', s, { ...none, stoppedHere: new Set(['s1']) }, false],
    ['dismissed', s, { ...none, dismissed: new Set(['s1']) }, false],
    ['over an hour ago', { ...s, updatedAt: '2026-01-01T10:59:00Z' }, none, false],
    ['still running', { ...s, state: 'running' as const }, none, false],
  ] as const)('%s → %s', (_name, session, seen, told) => {
    expect(tellEnded(session, now, seen)).toBe(told);
  });
});
